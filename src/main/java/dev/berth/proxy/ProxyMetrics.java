package dev.berth.proxy;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

/**
 * What the pull-through does, counted: requests to each upstream by method and status, cache hits, misses and
 * stale serves, bytes fetched from upstreams and bytes served from mirrored repositories.
 */
public final class ProxyMetrics implements UpstreamClient.UpstreamCounter {
    private final MeterRegistry registry;

    public ProxyMetrics(MeterRegistry registry) {
        this.registry = registry == null ? new SimpleMeterRegistry() : registry;
    }

    @Override
    public void count(String upstream, String method, int status) {
        Counter.builder("berth_upstream_requests").description("Requests Berth sent to upstream registries")
                .tag("upstream", upstream).tag("method", method).tag("status", status == 0 ? "error" : Integer.toString(status))
                .register(registry).increment();
    }

    /** A pull-through answer: {@code result} is hit, miss or stale; {@code kind} manifest or blob. */
    void answered(String kind, String result) {
        Counter.builder("berth_cache_requests").description("Pull-through requests by whether the cache could answer")
                .tag("kind", kind).tag("result", result).register(registry).increment();
    }

    void fetched(String upstream, long bytes) {
        Counter.builder("berth_upstream_bytes").description("Bytes fetched from upstream registries")
                .baseUnit("bytes").tag("upstream", upstream).register(registry).increment(bytes);
    }

    void served(String upstream, long bytes) {
        Counter.builder("berth_mirror_served_bytes").description("Bytes of mirrored blobs served to clients")
                .baseUnit("bytes").tag("upstream", upstream).register(registry).increment(bytes);
    }

    /** The count so far of a counter, for tests and logs. */
    public double count(String name, String... tags) {
        Counter c = registry.find(name).tags(tags).counter();
        return c == null ? 0 : c.count();
    }
}
