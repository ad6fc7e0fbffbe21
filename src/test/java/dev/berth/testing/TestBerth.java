package dev.berth.testing;

import dev.berth.Berth;
import dev.berth.config.BerthConfig;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
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
    /** Which stores the tests run on: "embedded" (the default), or "postgres", "s3" or both ("postgres,s3"). */
    public static final String BACKEND = System.getProperty("berth.test.backend", "embedded");

    private final UnaryOperator<BerthConfig> customizer;
    private Path root;
    private String database;
    private String bucket;
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
        BerthConfig config = customizer.apply(new BerthConfig(storage(root), defaults.http().withPort(0),
                defaults.log()));
        berth = Berth.start(config);
        client = new RegistryClient(berth.uri());
    }

    /**
     * The storage tests run on: the embedded default; with -Dberth.test.backend=postgres the metadata in a
     * PostgreSQL database of its own; with s3 the blobs in a bucket of its own (both kept across restarts of this
     * Berth). With both, Berth runs as a node of a cluster would.
     */
    private BerthConfig.Storage storage(Path root) {
        BerthConfig.Storage storage = new BerthConfig.Storage(root);
        if (BACKEND.contains("postgres")) {
            if (database == null) {
                database = TestPostgres.newDatabase();
            }
            storage = storage.withDatabase(new BerthConfig.Database(database, TestPostgres.user(),
                    TestPostgres.password(), 8));
        }
        if (BACKEND.contains("s3")) {
            if (bucket == null) {
                bucket = TestS3.newBucket();
            }
            storage = storage.withObjectStore(TestS3.objectStore(bucket));
        }
        return storage;
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

    /**
     * Everything the metadata database holds, as text, for tests that check a secret is never stored in the
     * clear: the SQLite file and its write-ahead log, or every row of every table in PostgreSQL.
     */
    public String storedMetadata() throws Exception {
        if (database == null) {
            StringBuilder text = new StringBuilder();
            for (String file : new String[] {"berth.db", "berth.db-wal"}) {
                Path path = root.resolve(file);
                if (Files.exists(path)) {
                    text.append(new String(Files.readAllBytes(path), StandardCharsets.ISO_8859_1));
                }
            }
            return text.toString();
        }
        StringBuilder text = new StringBuilder();
        try (Connection c = DriverManager.getConnection(database, TestPostgres.user(), TestPostgres.password());
             Statement s = c.createStatement()) {
            List<String> tables = new ArrayList<>();
            try (ResultSet rows = s.executeQuery("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")) {
                while (rows.next()) {
                    tables.add(rows.getString(1));
                }
            }
            for (String table : tables) {
                try (ResultSet rows = s.executeQuery("SELECT * FROM " + table)) {
                    int columns = rows.getMetaData().getColumnCount();
                    while (rows.next()) {
                        for (int i = 1; i <= columns; i++) {
                            text.append(rows.getString(i)).append('\n');
                        }
                    }
                }
            }
        }
        return text.toString();
    }

    public Path root() {
        return root;
    }

    /** A repository name no other test uses. */
    public static String newRepository(String prefix) {
        return prefix + "/r" + REPOSITORIES.incrementAndGet();
    }
}
