package dev.berth.config;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/** Berth's configuration, validated; read from a zot-format {@code config.json} or the built-in defaults. */
public record BerthConfig(Storage storage, Http http, Log log, Metrics metrics, SyncConfig sync, boolean ui) {

    public BerthConfig(Storage storage, Http http, Log log) {
        this(storage, http, log, Metrics.DEFAULT, null, true);
    }

    public BerthConfig(Storage storage, Http http, Log log, Metrics metrics, SyncConfig sync) {
        this(storage, http, log, metrics, sync, true);
    }

    /** {@code extensions.metrics}: Prometheus metrics, on by default at {@code /metrics}. */
    public record Metrics(boolean enabled, String path) {
        public static final Metrics DEFAULT = new Metrics(true, "/metrics");
    }

    public static final String DEFAULT_ADDRESS = "127.0.0.1";
    public static final int DEFAULT_PORT = 5000;
    public static final Path DEFAULT_ROOT = Path.of("berth-data");
    public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofSeconds(60);
    public static final int DEFAULT_MAX_CONNECTIONS = 4096;
    public static final String DEFAULT_REALM = "Berth";

    /**
     * Where everything is kept: blobs, uploads and the metadata database (SQLite in {@code rootDirectory}, or the
     * PostgreSQL server {@code database} names when it is not null); and how it is kept clean.
     */
    public record Storage(Path rootDirectory, Gc gc, Scrub scrub, Database database, ObjectStore objectStore) {
        public Storage(Path rootDirectory) {
            this(rootDirectory, Gc.DEFAULT, Scrub.OFF, null, null);
        }

        public Storage withGc(Gc newGc) {
            return new Storage(rootDirectory, newGc, scrub, database, objectStore);
        }

        public Storage withScrub(Scrub newScrub) {
            return new Storage(rootDirectory, gc, newScrub, database, objectStore);
        }

        public Storage withDatabase(Database newDatabase) {
            return new Storage(rootDirectory, gc, scrub, newDatabase, objectStore);
        }

        public Storage withObjectStore(ObjectStore newObjectStore) {
            return new Storage(rootDirectory, gc, scrub, database, newObjectStore);
        }
    }

    /**
     * {@code storage.storageDriver} with {@code name: s3} (zot's keys): blobs in an S3-compatible bucket under
     * {@code prefix} ({@code rootdirectory}, without leading or trailing slashes; may be empty). {@code endpoint}
     * is null for AWS itself; credentials null for the standard AWS chain (environment, profile, instance role).
     */
    public record ObjectStore(String bucket, String region, java.net.URI endpoint, String prefix, boolean pathStyle,
                              String accessKey, String secretKey) {
        /** Never the secret key: this may be logged. */
        @Override
        public String toString() {
            return "ObjectStore[bucket=" + bucket + ", region=" + region + ", endpoint=" + endpoint + ", prefix=" + prefix
                    + ", pathStyle=" + pathStyle + ", accessKey=" + accessKey + ", secretKey="
                    + (secretKey == null ? "none" : "***") + "]";
        }
    }

    /**
     * {@code storage.database} (Berth's own key): the PostgreSQL server that holds the metadata, by JDBC URL
     * ({@code jdbc:postgresql://host:5432/berth}), with at most {@code maxConnections} open at once.
     */
    public record Database(String url, String user, String password, int maxConnections) {
        public static final int DEFAULT_MAX_CONNECTIONS = 16;

        /** Never the password: this may be logged. */
        @Override
        public String toString() {
            return "Database[url=" + url + ", user=" + user + ", password=" + (password == null ? "none" : "***")
                    + ", maxConnections=" + maxConnections + "]";
        }
    }

    /** {@code extensions.scrub}: re-hash everything stored every {@code interval}; off unless configured, as in zot. */
    public record Scrub(boolean enabled, Duration interval) {
        public static final Duration DEFAULT_INTERVAL = Duration.ofHours(24);
        public static final Duration MINIMUM_INTERVAL = Duration.ofHours(2);
        public static final Scrub OFF = new Scrub(false, DEFAULT_INTERVAL);
    }

    /**
     * Garbage collection ({@code storage.gc}, {@code gcDelay}, {@code gcInterval}): every {@code interval}, what
     * nothing needs any more and is older than {@code delay} is deleted. {@code storage.retention}: {@code dryRun}
     * only logs what would be deleted; {@code untaggedDelay} ({@code retention.delay}, else {@code delay}) is how
     * old an untagged manifest must be; {@code policies} say which tags are kept.
     */
    public record Gc(boolean enabled, Duration delay, Duration interval, boolean dryRun, Duration untaggedDelay,
                     List<RetentionPolicy> policies) {
        public static final Gc DEFAULT = new Gc(true, Duration.ofHours(1), Duration.ofHours(1), false);

        public Gc {
            policies = List.copyOf(policies);
        }

        public Gc(boolean enabled, Duration delay, Duration interval, boolean dryRun) {
            this(enabled, delay, interval, dryRun, delay, List.of());
        }
    }

    /**
     * The listener. {@code externalUrl} is the address clients reach Berth at (behind a proxy); {@code tls} is
     * null for plain HTTP. Only idle connections time out: a request may take as long as its bytes take.
     * {@code auth} and {@code accessControl} are null when not configured.
     */
    public record Http(String address, int port, Tls tls, URI externalUrl, Duration idleTimeout, int maxConnections,
                       String realm, AuthConfig auth, AccessControlConfig accessControl) {
        public Http withPort(int newPort) {
            return new Http(address, newPort, tls, externalUrl, idleTimeout, maxConnections, realm, auth, accessControl);
        }

        public Http withTls(Tls newTls) {
            return new Http(address, port, newTls, externalUrl, idleTimeout, maxConnections, realm, auth, accessControl);
        }

        public Http withAccess(AuthConfig newAuth, AccessControlConfig newAccessControl) {
            return new Http(address, port, tls, externalUrl, idleTimeout, maxConnections, realm, newAuth, newAccessControl);
        }

        public Http withExternalUrl(URI url) {
            return new Http(address, port, tls, url, idleTimeout, maxConnections, realm, auth, accessControl);
        }
    }

    /** Server certificate and key; {@code caCert}, when set, is the CA whose client certificates are accepted. */
    public record Tls(Path cert, Path key, Path caCert) {
        public Tls(Path cert, Path key) {
            this(cert, key, null);
        }
    }

    /**
     * {@code level} is one of trace, debug, info, warn, error; {@code output} a file, or null for stdout;
     * {@code audit} a file for the audit log of state-changing requests, or null for none.
     */
    /** {@code log}: level, where to write ({@code null}: standard output), the audit log, and text or JSON lines. */
    public record Log(String level, Path output, Path audit, boolean json) {
        public Log(String level, Path output, Path audit) {
            this(level, output, audit, false);
        }
    }

    public BerthConfig withHttp(Http newHttp) {
        return new BerthConfig(storage, newHttp, log, metrics, sync, ui);
    }

    public BerthConfig withLog(Log newLog) {
        return new BerthConfig(storage, http, newLog, metrics, sync, ui);
    }

    public BerthConfig withStorage(Storage newStorage) {
        return new BerthConfig(newStorage, http, log, metrics, sync, ui);
    }

    public BerthConfig withSync(SyncConfig newSync) {
        return new BerthConfig(storage, http, log, metrics, newSync, ui);
    }

    public static BerthConfig defaults() {
        return new BerthConfig(new Storage(DEFAULT_ROOT),
                new Http(DEFAULT_ADDRESS, DEFAULT_PORT, null, null, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
                        DEFAULT_REALM, null, null),
                new Log("info", null, null));
    }
}
