package dev.berth.ops;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
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
import java.util.function.Supplier;

/**
 * Berth's metrics in the Prometheus format, through Micrometer. Gauges that describe rows of the database (such
 * as API-key lifetimes) are refreshed when scraped, so they cost nothing between scrapes.
 */
public final class Metrics {
    /** An API key as the expiry gauge shows it. */
    public record KeyLifetime(String user, String label, String id, Instant expiresAt) {
    }

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Clock clock;
    private final MultiGauge keyExpiry;
    private final Supplier<List<KeyLifetime>> keys;

    public Metrics(Clock clock, Supplier<List<KeyLifetime>> keys) {
        this.clock = clock;
        this.keys = keys;
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
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    /** The text a Prometheus scrape gets. */
    public String scrape() {
        refreshKeyExpiry();
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
