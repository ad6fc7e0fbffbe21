package dev.berth.registry;

import dev.berth.meta.MetadataStore;
import dev.berth.meta.MetadataStore.ManifestKey;
import dev.berth.meta.MetadataStore.PullCount;
import dev.berth.oci.Digest;
import java.time.Clock;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
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
    private volatile ConcurrentHashMap<ManifestKey, Tally> pending = new ConcurrentHashMap<>();

    /** One manifest's pulls since the last flush; many clients pulling one tag add to it without contention. */
    private static final class Tally {
        final LongAdder count = new LongAdder();
        final AtomicLong lastMillis = new AtomicLong();
    }

    Pulls(MetadataStore meta, Clock clock) {
        this.meta = meta;
        this.clock = clock;
    }

    public void record(String repository, Digest digest) {
        long at = clock.millis();
        Tally tally = pending.computeIfAbsent(new ManifestKey(repository, digest), k -> new Tally());
        tally.count.increment();
        if (tally.lastMillis.get() < at) { // at most once a millisecond: a hot tag's pulls don't fight over it
            tally.lastMillis.accumulateAndGet(at, Math::max);
        }
    }

    /** Writes what was counted since the last flush. */
    public synchronized void flush() {
        Map<ManifestKey, Tally> tallies = pending;
        if (tallies.isEmpty()) {
            return;
        }
        pending = new ConcurrentHashMap<>();
        // A pull that took the old map just before the swap may still add to it: that count is lost.
        Map<ManifestKey, PullCount> batch = new HashMap<>();
        tallies.forEach((key, t) -> batch.put(key, new PullCount(t.count.sum(), Instant.ofEpochMilli(t.lastMillis.get()))));
        try {
            meta.recordPulls(batch);
        } catch (RuntimeException e) {
            LOG.warn("recording {} manifests' pulls failed; those counts are lost", batch.size(), e);
        }
    }
}
