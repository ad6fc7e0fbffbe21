package dev.berth.cli;

import dev.berth.DataDirectory;
import dev.berth.config.BerthConfig;
import dev.berth.config.Durations;
import dev.berth.ops.Scrubber;
import dev.berth.proxy.Mirrors;
import dev.berth.registry.Registry;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code berth scrub}: one integrity check over a data directory that no server has open. */
@Command(name = "scrub", mixinStandardHelpOptions = true,
        header = "Re-hashes every stored blob and manifest and sets corrupt ones aside.",
        description = {"Re-hashes every stored blob and manifest. Corrupt ones are set aside in quarantine/ and",
                "forgotten, so they are never served: mirrors fetch them again, pushes upload them again.",
                "Exits 0 when everything is intact, 3 when something was corrupt, 1 when scrub could not run.",
                "A running server scrubs itself every extensions.scrub.interval."})
final class ScrubCommand implements Callable<Integer> {
    @Option(names = {"-c", "--config"}, paramLabel = "FILE", description = "zot-format config.json to read")
    Path config;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        BerthConfig settings = Commands.settings(config, err);
        if (settings == null) {
            return 2;
        }
        if (!Commands.holdsData(settings.storage(), "scrub", err)) {
            return 2;
        }
        Clock clock = Clock.systemUTC();
        try (DataDirectory data = DataDirectory.open(settings.storage(), clock)) {
            Registry registry = Registry.create(data.blobs(), data.meta(), clock);
            Mirrors mirrors = Mirrors.of(settings.sync());
            Scrubber.Report report = new Scrubber(data.blobs(), data.meta(), registry,
                    repo -> mirrors.owner(repo).isPresent(), r -> { }).run();
            out.printf("checked %d blobs (%d bytes) in %s: %s%n", report.checked(), report.bytes(),
                    Durations.format(report.took()), report.corrupt().isEmpty() ? "all intact"
                            : report.corrupt().size() + " corrupt, set aside in " + data.root().resolve("quarantine"));
            report.corrupt().forEach(d -> out.println("corrupt: " + d));
            return report.corrupt().isEmpty() ? 0 : 3;
        } catch (IOException e) {
            err.println("berth scrub: " + e.getMessage());
            return 1;
        }
    }
}
