package dev.berth;

import dev.berth.access.Access;
import dev.berth.config.AuthConfig;
import dev.berth.config.BerthConfig;
import dev.berth.config.Durations;
import dev.berth.http.HttpServer;
import dev.berth.http.Router;
import dev.berth.meta.JdbcMetadataStore;
import dev.berth.ops.Audit;
import dev.berth.ops.GarbageCollector;
import dev.berth.ops.Scrubber;
import dev.berth.ops.Health;
import dev.berth.ops.Metrics;
import dev.berth.proxy.Mirror;
import dev.berth.proxy.Mirrors;
import dev.berth.proxy.ProxyMetrics;
import dev.berth.proxy.PullThrough;
import dev.berth.proxy.Syncer;
import dev.berth.registry.Pulls;
import dev.berth.registry.Registry;
import dev.berth.store.BlobStore;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Wires configuration → stores → registry → HTTP by hand, and starts and stops the whole. */
public final class Berth implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Berth.class);

    /** When the first scheduled runs come after a start (or the interval, if shorter). */
    static final java.time.Duration FIRST_GC = java.time.Duration.ofMinutes(10);
    static final java.time.Duration FIRST_SCRUB = java.time.Duration.ofHours(1);

    private final DataDirectory data;
    private final Health health;
    private final HttpServer server;
    private final ScheduledExecutorService maintenance;
    private final PullThrough pullThrough;
    private final Syncer syncer;
    private final GarbageCollector collector;
    private final Pulls pulls;
    private final Scrubber scrubber;

    private Berth(DataDirectory data, Health health, HttpServer server,
                  ScheduledExecutorService maintenance, PullThrough pullThrough, Syncer syncer,
                  GarbageCollector collector, Scrubber scrubber, Pulls pulls) {
        this.pulls = pulls;
        this.collector = collector;
        this.scrubber = scrubber;
        this.data = data;
        this.health = health;
        this.server = server;
        this.maintenance = maintenance;
        this.pullThrough = pullThrough;
        this.syncer = syncer;
    }

    /** Opens the data directory and starts serving; everything opened is closed again if a step fails. */
    public static Berth start(BerthConfig config) throws Exception {
        HttpServer server = new HttpServer(config.http());
        Clock clock = Clock.systemUTC();
        DataDirectory data = DataDirectory.open(config.storage(), clock);
        Path root = data.root();
        BlobStore blobs = data.blobs();
        JdbcMetadataStore meta = data.meta();
        ScheduledExecutorService maintenance = null;
        PullThrough pullThrough = null;
        Syncer syncer = null;
        try {
            Registry registry = Registry.create(blobs, meta, clock);
            Access access = Access.create(config.http(), meta, clock);
            Health health = new Health(() -> Files.isDirectory(root) && Files.isWritable(root) && meta.reachable()
                    && blobs.reachable());
            JdbcMetadataStore rows = meta;
            Metrics metrics = config.metrics().enabled() ? new Metrics(clock, () -> access.apiKeys().all().stream()
                    .map(k -> new Metrics.KeyLifetime(k.owner(), k.label(), k.id(), k.expiresAt())).toList(),
                    () -> rows.repositorySizes().entrySet().stream()
                            .map(e -> new Metrics.RepositorySize(e.getKey(), e.getValue())).toList()) : null;
            pullThrough = new PullThrough(Mirrors.of(config.sync()), registry, blobs, meta, clock,
                    new ProxyMetrics(metrics == null ? null : metrics.registry()));
            server.start(new Router(registry, pullThrough, access, health, config.http().externalUrl(),
                    config.http().tls() != null, Audit.to(config.log().audit()), metrics, config.metrics().path(),
                    config.ui(), clock));
            // Two threads: a scrub may read for hours, and must not hold up collection or the pull counts meanwhile.
            maintenance = Executors.newScheduledThreadPool(2,
                    Thread.ofPlatform().daemon().name("berth-maintenance-", 1).factory());
            JdbcMetadataStore store = meta;
            maintenance.scheduleWithFixedDelay(() -> forgetExpiredSessions(store, clock), 1, 10, TimeUnit.MINUTES);
            maintenance.scheduleWithFixedDelay(store::renewClaim, 10, 10, TimeUnit.SECONDS);
            BerthConfig.Gc gc = config.storage().gc();
            GarbageCollector collector = new GarbageCollector(blobs, meta, registry.locks(), registry.uploads(), clock,
                    gc, metrics == null ? (report, failed) -> { } : metrics::gcFinished);
            Pulls pulls = registry.pulls();
            maintenance.scheduleWithFixedDelay(pulls::flush, 10, 10, TimeUnit.SECONDS);
            if (gc.enabled()) {
                long every = Math.max(1, gc.interval().toMillis());
                // The first run comes soon after start, so that a server restarted more often than gcInterval
                // still collects.
                maintenance.scheduleWithFixedDelay(() -> {
                    pulls.flush(); // retention judges by pulls, the latest included
                    collectQuietly(collector, gc.dryRun());
                }, Math.min(every, FIRST_GC.toMillis()), every, TimeUnit.MILLISECONDS);
            }
            Mirrors mirrors = pullThrough.mirrors();
            Scrubber scrubber = new Scrubber(blobs, meta, registry, repo -> mirrors.owner(repo).isPresent(),
                    metrics == null ? report -> { } : metrics::scrubFinished);
            BerthConfig.Scrub scrub = config.storage().scrub();
            if (scrub.enabled()) {
                long every = scrub.interval().toMillis();
                maintenance.scheduleWithFixedDelay(() -> scrubQuietly(scrubber), Math.min(every, FIRST_SCRUB.toMillis()),
                        every, TimeUnit.MILLISECONDS);
            }
            health.markStarted();
            LOG.info("Berth {} serving {} with {}; {}{}; {}", version(), server.uri(), describeStorage(config.storage(), root),
                    describe(config),
                    describeMirrors(pullThrough.mirrors()), describeUpkeep(config));
            syncer = new Syncer(pullThrough);
            syncer.start();
            return new Berth(data, health, server, maintenance, pullThrough, syncer, collector, scrubber, pulls);
        } catch (Exception | Error e) {
            if (syncer != null) {
                syncer.close();
            }
            if (maintenance != null) {
                maintenance.shutdownNow();
            }
            if (pullThrough != null) {
                pullThrough.close();
            }
            data.close();
            throw e;
        }
    }

    private static void collectQuietly(GarbageCollector collector, boolean dryRun) {
        try {
            collector.run(dryRun);
        } catch (RuntimeException e) {
            LOG.warn("garbage collection failed; it runs again at the next interval", e);
        }
    }

    private static void scrubQuietly(Scrubber scrubber) {
        try {
            scrubber.run();
        } catch (RuntimeException e) {
            LOG.warn("scrub failed; it runs again at the next interval", e);
        }
    }

    /** Scrubs now, as the schedule would (for tests). */
    public Scrubber.Report scrub() {
        return scrubber.run();
    }

    /** Collects garbage now, as the schedule would (for the command line and tests). */
    public GarbageCollector.Report collectGarbage(boolean dryRun) {
        pulls.flush();
        return collector.run(dryRun);
    }

    private static void forgetExpiredSessions(JdbcMetadataStore store, Clock clock) {
        try {
            int removed = store.deleteExpired(clock.instant(), clock.instant().minus(Duration.ofHours(1)));
            if (removed > 0) {
                LOG.debug("forgot {} expired sessions and login attempts", removed);
            }
        } catch (RuntimeException e) {
            LOG.warn("removing expired sessions failed", e);
        }
    }

    /** The start-up summary of housekeeping: collection, retention, scrub and metrics. */
    private static String describeUpkeep(BerthConfig config) {
        BerthConfig.Gc gc = config.storage().gc();
        StringBuilder out = new StringBuilder();
        if (gc.enabled()) {
            out.append("garbage collection every ").append(Durations.format(gc.interval())).append(" (gcDelay ")
                    .append(Durations.format(gc.delay())).append(gc.policies().isEmpty() ? ""
                            : ", " + gc.policies().size() + " retention policies").append(gc.dryRun() ? ", dry run" : "")
                    .append(')');
        } else {
            out.append("no garbage collection");
        }
        BerthConfig.Scrub scrub = config.storage().scrub();
        out.append(scrub.enabled() ? "; scrub every " + Durations.format(scrub.interval()) : "; no scrub");
        out.append(config.metrics().enabled() ? "; metrics at " + config.metrics().path() : "; no metrics");
        return out.toString();
    }

    /** The start-up summary of the upstreams: where each one's images appear, and how they come. */
    private static String describeMirrors(Mirrors mirrors) {
        StringBuilder out = new StringBuilder();
        for (Mirror m : mirrors.all()) {
            out.append(out.isEmpty() ? "; mirroring " : ", ").append(m.name()).append(" under ")
                    .append(m.config().content().stream()
                            .map(c -> (c.destination().isEmpty() ? "" : c.destination() + "/") + c.prefix())
                            .collect(java.util.stream.Collectors.joining(" ")));
            out.append(m.config().onDemand() ? " on demand" : "");
            if (m.config().pollInterval() != null) {
                out.append(m.config().onDemand() ? " and" : "").append(" every ").append(Durations.format(m.config().pollInterval()));
            }
        }
        return out.toString();
    }

    /** The start-up summary of what is switched on. */
    private static String describe(BerthConfig config) {
        AuthConfig auth = config.http().auth();
        if (auth == null || !auth.anyAuthenticator()) {
            return "no authentication: every caller may push and delete";
        }
        StringBuilder methods = new StringBuilder("sign-in by");
        if (auth.htpasswd() != null) {
            methods.append(" htpasswd");
        }
        if (auth.ldap() != null) {
            methods.append(" ldap");
        }
        auth.openid().keySet().forEach(k -> methods.append(" openid:").append(k));
        if (auth.mtls() != null) {
            methods.append(" mtls");
        }
        if (auth.apiKeys()) {
            methods.append(" api-keys");
        }
        methods.append(config.http().accessControl() == null ? "; no access control: signed-in users may do everything"
                : "; access control on " + plural(config.http().accessControl().repositories().size(), "repository pattern"));
        return methods.toString();
    }

    public int port() {
        return server.port();
    }

    public URI uri() {
        return server.uri();
    }

    /** Graceful stop: no new requests, requests in flight finish, then the stores close. */
    @Override
    public void close() {
        health.markStopping();
        maintenance.shutdownNow();
        syncer.close();
        try {
            server.stop();
            pulls.flush();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            LOG.warn("interrupted while stopping the HTTP server");
        } catch (Exception e) {
            LOG.warn("stopping the HTTP server failed", e);
        } finally {
            try {
                pullThrough.close();
            } finally {
                data.close();
            }
        }
        LOG.info("Berth stopped");
    }

    /** One line an operator can act on, for the usual reasons a start fails. */
    public static String describeStartFailure(Throwable failure, BerthConfig config) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof java.net.BindException) {
                return "cannot listen on " + config.http().address() + ":" + config.http().port() + ": " + t.getMessage()
                        + " (another address or port: http.address and http.port in a config.json, berth serve -c FILE)";
            }
            if (t instanceof java.nio.file.AccessDeniedException denied) {
                return "permission denied: " + denied.getFile();
            }
            if (t instanceof java.nio.file.FileSystemException fs) {
                return fs.getFile() + ": " + (fs.getReason() == null ? fs.getClass().getSimpleName() : fs.getReason());
            }
        }
        String message = failure.getMessage();
        return message == null ? failure.toString() : message;
    }

    /** Where blobs and rows are kept, for the start-up line; never a credential. */
    static String describeStorage(BerthConfig.Storage storage, Path root) {
        BerthConfig.ObjectStore bucket = storage.objectStore();
        String blobs = bucket == null ? "blobs in " + root
                : "blobs in s3://" + bucket.bucket() + "/" + bucket.prefix() + " at "
                + (bucket.endpoint() == null ? "AWS " + bucket.region() : bucket.endpoint()) + ", spooling in " + root;
        String rows = storage.database() == null ? "metadata in " + root.resolve("berth.db")
                : "metadata in PostgreSQL at " + withoutQuery(storage.database().url());
        String mode = bucket != null && storage.database() != null ? " (a cluster node: others may share both)" : "";
        return blobs + ", " + rows + mode;
    }

    /** A URL without its query, where a JDBC URL may carry a password. */
    static String withoutQuery(String url) {
        int query = url.indexOf('?');
        return query < 0 ? url : url.substring(0, query);
    }

    public static String version() {
        String v = Berth.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    private static String plural(int n, String noun) {
        return n + " " + noun + (n == 1 ? "" : "s");
    }
}
