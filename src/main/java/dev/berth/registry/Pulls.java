package dev.berth.registry;

import dev.berth.meta.MetadataStore;
import dev.berth.meta.MetadataStore.ManifestKey;
import dev.berth.meta.MetadataStore.PullCount;
import dev.berth.oci.Digest;
import java.time.Clock;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Counts manifest pulls in memory and writes them in batches: a pull must not cost a database write, but
 * retention policies need to know what was pulled when. A crash loses at most the pulls since the last flush.
 */
public final class Pulls {
    private static final Logger LOG = LoggerFactory.getLogger(Pulls.class);

    private final MetadataStore meta;
    private final Clock clock;
    private volatile ConcurrentHashMap<ManifestKey, PullCount> pending = new ConcurrentHashMap<>();

    Pulls(MetadataStore meta, Clock clock) {
        this.meta = meta;
        this.clock = clock;
    }

    public void record(String repository, Digest digest) {
        var at = clock.instant();
        pending.merge(new ManifestKey(repository, digest), new PullCount(1, at),
                (a, b) -> new PullCount(a.count() + b.count(), a.last().isAfter(b.last()) ? a.last() : b.last()));
    }

    /** Writes what was counted since the last flush. */
    public synchronized void flush() {
        Map<ManifestKey, PullCount> batch = pending;
        if (batch.isEmpty()) {
            return;
        }
        pending = new ConcurrentHashMap<>();
        try {
            meta.recordPulls(batch);
        } catch (RuntimeException e) {
            LOG.warn("recording {} manifests' pulls failed; those counts are lost", batch.size(), e);
        }
    }
}
