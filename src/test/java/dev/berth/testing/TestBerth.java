package dev.berth.testing;

import dev.berth.Berth;
import dev.berth.config.BerthConfig;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real Berth for a test class: embedded defaults in a temporary data directory, listening on an ephemeral
 * loopback port. Register it as a static {@code @RegisterExtension} field.
 */
public final class TestBerth implements BeforeAllCallback, AfterAllCallback {
    private static final AtomicInteger REPOSITORIES = new AtomicInteger();

    private final UnaryOperator<BerthConfig> customizer;
    private Path root;
    private Berth berth;
    private RegistryClient client;

    public TestBerth() {
        this(UnaryOperator.identity());
    }

    /** A Berth whose configuration {@code customizer} adjusts (it gets the defaults with a temporary root). */
    public TestBerth(UnaryOperator<BerthConfig> customizer) {
        this.customizer = customizer;
    }

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        root = Files.createTempDirectory("berth-test");
        start();
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        stop();
        try (Stream<Path> files = Files.walk(root)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    public void start() throws Exception {
        BerthConfig defaults = BerthConfig.defaults();
        BerthConfig config = customizer.apply(new BerthConfig(new BerthConfig.Storage(root), defaults.http().withPort(0),
                defaults.log()));
        berth = Berth.start(config);
        client = new RegistryClient(berth.uri());
    }

    public void stop() throws Exception {
        if (berth != null) {
            berth.close();
            berth = null;
        }
    }

    public RegistryClient client() {
        return client;
    }

    /** The running Berth, for what has no HTTP surface (running garbage collection now, say). */
    public Berth berth() {
        return berth;
    }

    public URI uri() {
        return berth.uri();
    }

    /** host:port, as container tools write a registry. */
    public String hostPort() {
        return "127.0.0.1:" + berth.port();
    }

    public Path root() {
        return root;
    }

    /** A repository name no other test uses. */
    public static String newRepository(String prefix) {
        return prefix + "/r" + REPOSITORIES.incrementAndGet();
    }
}
