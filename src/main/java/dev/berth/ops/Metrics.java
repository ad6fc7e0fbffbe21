package dev.berth.ops;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Berth's metrics in the Prometheus format, through Micrometer: zot's names and labels, so that existing
 * dashboards work, and Berth's own. Gauges that describe rows of the database (API-key lifetimes, repository
 * sizes) are refreshed when scraped, so they cost nothing between scrapes.
 */
public final class Metrics {
    /** zot's buckets for {@code zot_http_method_latency_seconds}. */
    private static final Duration[] LATENCY_BUCKETS = {Duration.ofMillis(50), Duration.ofMillis(500),
        Duration.ofSeconds(1), Duration.ofSeconds(5), Duration.ofSeconds(30), Duration.ofSeconds(60),
        Duration.ofSeconds(600)};

    /** An API key as the expiry gauge shows it. */
    public record KeyLifetime(String user, String label, String id, Instant expiresAt) {
    }

    /** The bytes a repository holds (its blobs and manifests). */
    public record RepositorySize(String repository, long bytes) {
    }

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Clock clock;
    private final MultiGauge keyExpiry;
    private final MultiGauge repositorySizes;
    private final Supplier<List<KeyLifetime>> keys;
    private final Supplier<List<RepositorySize>> sizes;
    // Meters by label values: looked up on every request, so kept rather than rebuilt.
    private final Map<String, Counter> requests = new ConcurrentHashMap<>();
    private final Map<String, Timer> methodLatency = new ConcurrentHashMap<>();
    private final Map<String, Timer> repoLatency = new ConcurrentHashMap<>();
    private final Map<String, Counter> downloads = new ConcurrentHashMap<>();
    private final Map<String, Counter> uploads = new ConcurrentHashMap<>();
    private final java.util.concurrent.atomic.AtomicInteger lastScrubCorrupt = new java.util.concurrent.atomic.AtomicInteger();

    public Metrics(Clock clock, Supplier<List<KeyLifetime>> keys, Supplier<List<RepositorySize>> sizes) {
        this.clock = clock;
        this.keys = keys;
        this.sizes = sizes;
        new ClassLoaderMetrics().bindTo(registry);
        new JvmMemoryMetrics().bindTo(registry);
        new JvmGcMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new FileDescriptorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        keyExpiry = MultiGauge.builder("berth_apikey_expiry_seconds")
                .description("Seconds until each API key expires (negative once expired); keys that never expire"
                        + " are not listed. Alert before a CI key runs out.")
                .register(registry);
        Gauge.builder("berth_build", () -> 1).tag("version", dev.berth.Berth.version())
                .description("Berth's version, as a label of a gauge that is always 1").register(registry);
        // An info metric in Prometheus's own terms: Micrometer would drop the "_info" suffix of a gauge.
        io.prometheus.metrics.core.metrics.Info.builder().name("zot_info")
                .help("zot's build information, as Berth fills it in")
                .labelNames("commit", "binaryType", "goVersion", "version")
                .register(registry.getPrometheusRegistry())
                .setLabelValues("unknown", "berth", "java-" + Runtime.version().feature(), dev.berth.Berth.version());
        Gauge.builder("berth_scrub_last_corrupt_blobs", lastScrubCorrupt, java.util.concurrent.atomic.AtomicInteger::get)
                .description("Corrupt blobs the last scrub pass found: alert when above 0").register(registry);
        repositorySizes = MultiGauge.builder("zot_repo_storage_bytes")
                .description("Bytes of blobs and manifests each repository holds (shared blobs count in each)")
                .register(registry);
    }

    private static final java.util.Set<String> METHODS =
            java.util.Set.of("GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS");

    /**
     * Whether {@code repository} already names a series: then it existed once, and a request need not ask the
     * database again (a lookup after every write, on the path to the connection's next request).
     */
    public boolean hasSeries(String repository) {
        return repoLatency.containsKey(repository);
    }

    /**
     * One finished HTTP request. {@code repository} is the repository it addressed, or null when it
     * does not exist; only requests that succeeded are labelled with it, so that callers cannot mint new series.
     */
    public void request(String requestMethod, int status, String repository, boolean manifest, long nanos) {
        // Any token is a valid HTTP method: the ones a registry answers are labelled, the rest are one "other".
        String method = METHODS.contains(requestMethod) ? requestMethod : "other";
        String code = Integer.toString(status);
        requests.computeIfAbsent(method + " " + code, k -> Counter.builder("zot_http_requests")
                .description("HTTP requests by method and status code").tag("method", method).tag("code", code)
                .register(registry)).increment();
        methodLatency.computeIfAbsent(method, k -> Timer.builder("zot_http_method_latency")
                .description("Request latency by method").tag("method", method)
                .serviceLevelObjectives(LATENCY_BUCKETS).register(registry)).record(nanos, TimeUnit.NANOSECONDS);
        boolean named = repository != null && status < 400;
        String repo = named ? repository : "N/A";
        repoLatency.computeIfAbsent(repo, k -> Timer.builder("zot_http_repo_latency")
                .description("Request latency by repository").tag("repo", repo).register(registry))
                .record(nanos, TimeUnit.NANOSECONDS);
        if (named && manifest) {
            if (method.equals("GET")) {
                downloads.computeIfAbsent(repo, k -> Counter.builder("zot_repo_downloads")
                        .description("Manifest downloads by repository").tag("repo", repo).register(registry)).increment();
            } else if (method.equals("PUT")) {
                uploads.computeIfAbsent(repo, k -> Counter.builder("zot_repo_uploads")
                        .description("Manifest uploads by repository").tag("repo", repo).register(registry)).increment();
            }
        }
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    /** A garbage collection run, under zot's names; a dry run deletes nothing, so it counts no deletions. */
    public void gcFinished(GarbageCollector.Report report, boolean failed) {
        Counter.builder("zot_gc_runs").description("Garbage collection runs").tag("error", Boolean.toString(failed))
                .register(registry).increment();
        Timer.builder("zot_gc_duration").description("How long garbage collection runs take").register(registry)
                .record(report.took());
        if (!report.dryRun()) {
            deleted("tag", report.tags()); // by retention
            deleted("manifest", report.manifests());
            deleted("blob", report.blobs());
            deleted("upload", report.uploads());
        }
    }

    private void deleted(String type, int count) {
        Counter.builder("zot_gc_deleted").description("What garbage collection deleted, by type").tag("type", type)
                .register(registry).increment(count);
    }

    /** A scrub pass: what it checked, and how many corrupt blobs it found (the gauge keeps the last pass's). */
    public void scrubFinished(Scrubber.Report report) {
        Counter.builder("berth_scrub_runs").description("Scrub passes").register(registry).increment();
        Counter.builder("berth_scrub_checked_bytes").description("Bytes scrub has re-hashed").baseUnit("bytes")
                .register(registry).increment(report.bytes());
        Counter.builder("berth_scrub_corrupt_blobs").description("Blobs scrub found corrupt and set aside")
                .register(registry).increment(report.corrupt().size());
        lastScrubCorrupt.set(report.corrupt().size());
    }

    /** The text a Prometheus scrape gets. */
    public String scrape() {
        refreshKeyExpiry();
        List<MultiGauge.Row<?>> rows = new ArrayList<>();
        for (RepositorySize size : sizes.get()) {
            rows.add(MultiGauge.Row.of(Tags.of("repo", size.repository()), size.bytes()));
        }
        repositorySizes.register(rows, true);
        return registry.scrape();
    }

    private void refreshKeyExpiry() {
        Instant now = clock.instant();
        List<MultiGauge.Row<?>> rows = new ArrayList<>();
        for (KeyLifetime key : keys.get()) {
            if (key.expiresAt() != null) {
                double seconds = Duration.between(now, key.expiresAt()).toMillis() / 1000.0;
                rows.add(MultiGauge.Row.of(Tags.of("user", key.user(), "label", key.label(), "id", key.id()), seconds));
            }
        }
        keyExpiry.register(rows, true);
    }
}
