package dev.berth.cli;

import dev.berth.DataDirectory;
import dev.berth.config.BerthConfig;
import dev.berth.config.Durations;
import dev.berth.ops.GarbageCollector;
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

/** {@code berth gc}: one garbage collection over a data directory that no server has open. */
@Command(name = "gc", mixinStandardHelpOptions = true,
        header = "Deletes what nothing needs any more from a stopped server's data.",
        description = {"Deletes what nothing needs any more and is older than gcDelay: untagged manifests that no",
                "index or referrer keeps, blobs no manifest uses, abandoned uploads. A running server does this",
                "itself every gcInterval; this command is for a stopped one (it refuses a directory in use)."})
final class GcCommand implements Callable<Integer> {
    @Option(names = {"-c", "--config"}, paramLabel = "FILE", description = "zot-format config.json to read")
    Path config;

    @Option(names = "--dry-run", description = "report what would be deleted, and delete nothing")
    boolean dryRun;

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
        if (!Commands.holdsData(settings.storage(), "gc", err)) {
            return 2;
        }
        Clock clock = Clock.systemUTC();
        try (DataDirectory data = DataDirectory.open(settings.storage(), clock)) {
            Registry registry = Registry.create(data.blobs(), data.meta(), clock);
            GarbageCollector collector = new GarbageCollector(data.blobs(), data.meta(), registry.locks(),
                    registry.uploads(), clock, settings.storage().gc(), (report, failed) -> { });
            // storage.retention.dryRun makes the server's runs dry; this command honours it the same way.
            boolean dry = dryRun || settings.storage().gc().dryRun();
            if (dry && !dryRun) {
                out.println("storage.retention.dryRun is set: nothing is deleted");
            }
            GarbageCollector.Report report = collector.run(dry);
            out.printf("%s %d tags, %d untagged manifests, %d blob links, %d blobs (%d bytes), %d uploads in %s"
                            + " (gcDelay %s)%n",
                    dry ? "would delete" : "deleted", report.tags(), report.manifests(), report.links(), report.blobs(),
                    report.blobBytes(), report.uploads(), data.root(), Durations.format(settings.storage().gc().delay()));
            return 0;
        } catch (IOException e) {
            err.println("berth gc: " + e.getMessage());
            return 1;
        }
    }
}
