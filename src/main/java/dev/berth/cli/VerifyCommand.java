package dev.berth.cli;

import dev.berth.config.ConfigException;
import dev.berth.config.ConfigLoader;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code berth verify FILE}: checks a configuration without starting anything. */
@Command(name = "verify", mixinStandardHelpOptions = true,
        description = {"Checks a zot-format config.json.",
                "Prints every problem with its key path and exits 1 if the file cannot be used;",
                "prints the settings that would have no effect as warnings."})
final class VerifyCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "FILE", description = "the config.json to check")
    Path file;

    @Override
    public Integer call() {
        try {
            ConfigLoader.Loaded loaded = ConfigLoader.load(file);
            for (String warning : loaded.warnings()) {
                System.out.println("warning: " + warning);
            }
            System.out.println(file + ": valid");
            return 0;
        } catch (ConfigException e) {
            for (String problem : e.problems()) {
                System.err.println("error: " + problem);
            }
            System.err.println(file + ": invalid");
            return 1;
        }
    }
}
