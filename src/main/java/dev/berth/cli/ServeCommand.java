package dev.berth.cli;

import dev.berth.Berth;
import dev.berth.config.BerthConfig;
import dev.berth.config.ConfigException;
import dev.berth.config.ConfigLoader;
import dev.berth.ops.Logging;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

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
                System.err.println("berth: " + config + " cannot be used:");
                e.problems().forEach(p -> System.err.println("  " + p));
                return 2;
            }
        }
        Logging.configure(settings.log());
        if (!warnings.isEmpty()) {
            LOG.warn("{} settings in {} have no effect:\n  {}", warnings.size(), config, String.join("\n  ", warnings));
        }
        Berth berth = Berth.start(settings);
        serving = true;
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            LOG.info("stopping: letting requests in flight finish");
            try {
                berth.close();
            } catch (Exception e) {
                LOG.error("stopping failed", e);
            } finally {
                stopped.countDown();
            }
        }, "berth-shutdown"));
        stopped.await();
        return 0;
    }
}
