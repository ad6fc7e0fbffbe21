package dev.berth.cli;

import dev.berth.config.ConfigException;
import dev.berth.config.ConfigLoader;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code berth verify FILE}: checks a configuration without starting anything. */
@Command(name = "verify", mixinStandardHelpOptions = true,
        description = {"Checks a zot-format config.json.",
                "Prints every problem with its key path and exits 1 if the file cannot be used;",
                "prints the settings that would have no effect as warnings."})
final class VerifyCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "FILE", description = "the config.json to check")
    Path file;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        try {
            ConfigLoader.Loaded loaded = ConfigLoader.load(file);
            for (String warning : loaded.warnings()) {
                out.println("warning: " + warning);
            }
            out.println(file + ": valid");
            return 0;
        } catch (ConfigException e) {
            for (String problem : e.problems()) {
                err.println("error: " + problem);
            }
            for (String warning : e.warnings()) {
                err.println("warning: " + warning);
            }
            err.println(file + ": invalid");
            return 1;
        }
    }
}
