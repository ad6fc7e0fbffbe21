package dev.berth.config;

import java.util.List;

/** A configuration that cannot be used, with every problem found: each names its key path and the reason. */
public final class ConfigException extends Exception {
    private final List<String> problems;
    private final List<String> warnings;

    public ConfigException(List<String> problems) {
        this(problems, List.of());
    }

    public ConfigException(List<String> problems, List<String> warnings) {
        super(String.join("; ", problems));
        this.problems = List.copyOf(problems);
        this.warnings = List.copyOf(warnings);
    }

    public List<String> problems() {
        return problems;
    }

    /** What would also have been said about the file had it been valid. */
    public List<String> warnings() {
        return warnings;
    }
}
