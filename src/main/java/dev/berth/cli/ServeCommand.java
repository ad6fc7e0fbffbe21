package dev.berth.cli;

import dev.berth.Berth;
import dev.berth.config.BerthConfig;
import dev.berth.config.ConfigException;
import dev.berth.config.ConfigLoader;
import dev.berth.ops.Logging;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import ch.qos.logback.classic.LoggerContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code berth serve}: runs the registry until SIGTERM or SIGINT, then stops gracefully. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Runs the registry.",
                "Without --config, listens on 127.0.0.1:5000 with data in berth-data/",
                "(relative to the working directory)."})
final class ServeCommand implements Callable<Integer> {
    private static final Logger LOG = LoggerFactory.getLogger(ServeCommand.class);
    private static volatile boolean serving;

    @Option(names = {"-c", "--config"}, paramLabel = "FILE", description = "zot-format config.json to read")
    Path config;

    @Spec
    CommandSpec spec;

    static boolean serving() {
        return serving;
    }

    @Override
    public Integer call() throws Exception {
        BerthConfig settings;
        List<String> warnings = List.of();
        if (config == null) {
            settings = BerthConfig.defaults();
        } else {
            try {
                ConfigLoader.Loaded loaded = ConfigLoader.load(config);
                settings = loaded.config();
                warnings = loaded.warnings();
            } catch (ConfigException e) {
                PrintWriter err = spec.commandLine().getErr();
                err.println("berth: " + config + " cannot be used:");
                e.problems().forEach(p -> err.println("  " + p));
                return 2;
            }
        }
        Logging.configure(settings.log());
        if (!warnings.isEmpty()) {
            LOG.warn("{} settings in {} have no effect:\n  {}", warnings.size(), config, String.join("\n  ", warnings));
        }
        Berth berth;
        try {
            berth = Berth.start(settings);
        } catch (Exception e) {
            String reason = Berth.describeStartFailure(e, settings);
            LOG.error("cannot start: {}", reason);
            LOG.debug("start failure", e);
            spec.commandLine().getErr().println("berth: cannot start: " + reason);
            return 1;
        }
        serving = true;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            LOG.info("stopping: letting requests in flight finish");
            int status = 0;
            try {
                berth.close();
            } catch (RuntimeException e) {
                LOG.error("stopping failed", e);
                status = 1;
            }
            if (LoggerFactory.getILoggerFactory() instanceof LoggerContext context) {
                context.stop();
            }
            // A stop that went as asked for is a success: exit 0 rather than the JVM's 143 for SIGTERM.
            Runtime.getRuntime().halt(status);
        }, "berth-shutdown"));
        new CountDownLatch(1).await();
        return 0;
    }
}
