package dev.berth.config;

import java.util.List;

/** A configuration that cannot be used, with every problem found: each names its key path and the reason. */
public final class ConfigException extends Exception {
    private final List<String> problems;

    public ConfigException(List<String> problems) {
        super(String.join("; ", problems));
        this.problems = List.copyOf(problems);
    }

    public List<String> problems() {
        return problems;
    }
}
