package dev.berth.cli;

import dev.berth.DataDirectory;
import dev.berth.config.BerthConfig;
import dev.berth.ops.ZotImport;
import dev.berth.registry.Registry;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code berth import ZOT_ROOT}: zot's data directory into Berth's, verified and resumable. */
@Command(name = "import", mixinStandardHelpOptions = true,
        header = "Imports a zot data directory into Berth's, verified and resumable.",
        description = {"Imports every repository, tag, manifest, referrer and blob of a zot rootDirectory (its",
                "OCI layouts) into Berth's data directory, which no server may have open. Digests are checked;",
                "what is already imported is skipped, so an interrupted import is run again to finish.",
                "Exits 0 when every repository came in whole, 1 otherwise."})
final class ImportCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "ZOT_ROOT", description = "zot's storage.rootDirectory")
    Path source;

    @Option(names = {"-c", "--config"}, paramLabel = "FILE", description = "Berth's config.json (for its rootDirectory)")
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
        Clock clock = Clock.systemUTC();
        try (DataDirectory data = DataDirectory.open(settings.storage(), clock)) {
            if (data.root().equals(source.toAbsolutePath().normalize())) {
                err.println("berth import: " + source + " is Berth's own data directory");
                return 2;
            }
            Registry registry = Registry.create(data.blobs(), data.meta(), clock);
            List<ZotImport.Outcome> outcomes = new ZotImport(registry, data.meta(), out).run(source);
            if (outcomes.isEmpty()) {
                err.println("berth import: no OCI layouts (directories with oci-layout and index.json) under " + source
                        + "; give zot's rootDirectory, the parent of its repositories");
                return 1;
            }
            long failed = outcomes.stream().filter(o -> o.failure() != null).count();
            out.printf("%d repositories imported into %s%s%n", outcomes.size() - failed, data.root(),
                    failed == 0 ? "" : "; " + failed + " failed (see above): fix them and run the import again");
            return failed == 0 ? 0 : 1;
        } catch (IOException e) {
            err.println("berth import: " + e.getMessage());
            return 1;
        }
    }
}
