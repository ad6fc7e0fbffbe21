package dev.berth.ops;

import dev.berth.config.Durations;
import dev.berth.meta.MetadataStore;
import dev.berth.oci.Digest;
import dev.berth.oci.RegistryException;
import dev.berth.registry.BlobLocks;
import dev.berth.registry.Uploads;
import dev.berth.store.BlobStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Garbage collection, online: deletes what nothing needs any more and that is older than {@code gcDelay}, so a
 * push in flight (a blob uploaded whose manifest has not come yet) is never robbed. In order:
 * <ol>
 * <li>per repository, in one short transaction each: manifests that no tag, no index and no existing subject
 *     keeps (repeated, so an untagged index frees its children), then links to blobs no manifest there uses;</li>
 * <li>blobs no repository links any more: row, then bytes, under the blob's lock (see {@link BlobLocks});</li>
 * <li>bytes with no row at all (left by a crash between storing and recording);</li>
 * <li>upload sessions nobody has written to, and upload files no session owns.</li>
 * </ol>
 * A dry run walks the same way and reports exactly what a real run would delete, deleting nothing.
 */
public final class GarbageCollector {
    private static final Logger LOG = LoggerFactory.getLogger(GarbageCollector.class);

    /** What one run deleted (or, dry, would delete). */
    public record Report(boolean dryRun, int tags, int manifests, int links, int blobs, long blobBytes, int uploads,
                         Duration took) {
        int deleted() {
            return tags + manifests + blobs + uploads;
        }
    }

    /** Told about every finished run, for metrics. */
    public interface Listener {
        void finished(Report report, boolean failed);
    }

    private final BlobStore store;
    private final MetadataStore meta;
    private final BlobLocks locks;
    private final Uploads uploads;
    private final Clock clock;
    private final Duration delay;
    private final Duration untaggedDelay;
    private final Retention retention;
    private final Listener listener;
    private final ReentrantLock running = new ReentrantLock();

    public GarbageCollector(BlobStore store, MetadataStore meta, BlobLocks locks, Uploads uploads, Clock clock,
                            dev.berth.config.BerthConfig.Gc settings, Listener listener) {
        this.store = store;
        this.meta = meta;
        this.locks = locks;
        this.uploads = uploads;
        this.clock = clock;
        this.delay = settings.delay();
        this.untaggedDelay = settings.untaggedDelay();
        this.retention = new Retention(settings.policies());
        this.listener = listener;
    }

    /**
     * One run; one at a time (a second caller in this process waits for the first to finish; a node sharing the
     * database with another that is collecting skips its run, and reports nothing deleted).
     */
    public Report run(boolean dryRun) {
        running.lock();
        long started = System.nanoTime();
        try {
            Optional<Report> done = meta.ifAlone("gc", () -> collect(dryRun, clock.instant(), started));
            if (done.isEmpty()) {
                LOG.info("garbage collection skipped: another node is collecting");
                return new Report(dryRun, 0, 0, 0, 0, 0, 0, Duration.ofNanos(System.nanoTime() - started));
            }
            Report report = done.get();
            listener.finished(report, false);
            if (report.deleted() > 0 || report.links() > 0 || dryRun) {
                LOG.info("garbage collection{}: {} {} tags, {} untagged manifests, {} blob links, {} blobs ({} bytes),"
                                + " {} uploads, in {}", dryRun ? " (dry run)" : "", dryRun ? "would delete" : "deleted",
                        report.tags(), report.manifests(), report.links(), report.blobs(), report.blobBytes(),
                        report.uploads(), Durations.format(report.took()));
            } else {
                LOG.debug("garbage collection found nothing to delete");
            }
            return report;
        } catch (RuntimeException | Error e) {
            listener.finished(new Report(dryRun, 0, 0, 0, 0, 0, 0, Duration.ofNanos(System.nanoTime() - started)), true);
            throw e;
        } finally {
            running.unlock();
        }
    }

    private Report collect(boolean dryRun, Instant now, long started) {
        Instant cutoff = now.minus(delay);
        int tags = 0;
        int manifests = 0;
        int links = 0;
        // For a dry run: how many links each digest would lose, to tell which blobs would be left unlinked.
        Map<Digest, Integer> lost = new HashMap<>();
        String after = null;
        List<String> repositories;
        do {
            repositories = meta.repositories(after, 500);
            for (String repository : repositories) {
                var policy = retention.policyFor(repository);
                List<MetadataStore.TagStats> stats = meta.tagStats(repository);
                Set<String> judged = Set.copyOf(retention.tagsToDrop(repository, stats, now));
                List<MetadataStore.TagStats> drop = stats.stream().filter(t -> judged.contains(t.tag())).toList();
                MetadataStore.Collected collected = meta.collect(repository, new MetadataStore.Collection(drop,
                        policy.map(p -> p.deleteUntagged()).orElse(true),
                        policy.map(p -> p.deleteReferrers()).orElse(false), now.minus(untaggedDelay), cutoff), dryRun);
                for (String tag : collected.tags()) {
                    LOG.info("retention{}: {} tag {}:{}, which its policy does not keep", dryRun ? " (dry run)" : "",
                            dryRun ? "would delete" : "deleted", repository, tag);
                }
                tags += collected.tags().size();
                manifests += collected.manifests().size();
                links += collected.unlinked().size();
                for (Digest d : collected.manifests()) {
                    LOG.debug("{} untagged manifest {}@{}", dryRun ? "would delete" : "deleted", repository, d);
                }
                if (dryRun) {
                    collected.unlinked().forEach(d -> lost.merge(d, 1, Integer::sum));
                }
            }
            after = repositories.isEmpty() ? null : repositories.get(repositories.size() - 1);
        } while (repositories.size() == 500);

        int blobs = 0;
        long bytes = 0;
        if (dryRun) {
            Map<Digest, Long> unlinked = new HashMap<>(meta.unlinkedBlobs(Integer.MAX_VALUE));
            for (var e : lost.entrySet()) {
                if (meta.linkCount(e.getKey()) == e.getValue()) {
                    try {
                        store.size(e.getKey()).ifPresent(size -> unlinked.put(e.getKey(), size));
                    } catch (IOException failed) {
                        throw new UncheckedIOException(failed);
                    }
                }
            }
            for (var e : unlinked.entrySet()) {
                LOG.info("would delete blob {} ({} bytes)", e.getKey(), e.getValue());
                blobs++;
                bytes += e.getValue();
            }
        } else {
            Map<Digest, Long> batch;
            do {
                batch = meta.unlinkedBlobs(1000);
                for (var e : batch.entrySet()) {
                    if (deleteIfUnlinked(e.getKey())) {
                        blobs++;
                        bytes += e.getValue();
                    }
                }
            } while (batch.size() == 1000);
        }

        for (BlobStore.Entry orphan : orphanBlobs(cutoff)) {
            Digest digest = Digest.parse(orphan.name());
            boolean deleted = dryRun || locks.with(digest, () -> !meta.blobRecorded(digest) && store.delete(digest));
            if (deleted) {
                LOG.info("{} unrecorded blob {} ({} bytes)", dryRun ? "would delete" : "deleted", digest, orphan.size());
                blobs++;
                bytes += orphan.size();
            }
        }

        int abandoned = 0;
        for (String id : meta.uploadsStartedBefore(cutoff)) {
            if (uploads.abandonIfIdle(id, cutoff, dryRun)) {
                LOG.debug("{} abandoned upload {}", dryRun ? "would discard" : "discarded", id);
                abandoned++;
            }
        }
        try {
            for (BlobStore.Entry upload : store.uploads()) {
                if (upload.modified().isBefore(cutoff) && meta.upload(upload.name()).isEmpty()) {
                    if (!dryRun) {
                        store.deleteUpload(upload.name());
                    }
                    abandoned++;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new Report(dryRun, tags, manifests, links, blobs, bytes, abandoned,
                Duration.ofNanos(System.nanoTime() - started));
    }

    /** Row first (only if still unlinked), then bytes, under the blob's lock. */
    private boolean deleteIfUnlinked(Digest digest) {
        return locks.with(digest, () -> {
            if (!meta.forgetBlobIfUnlinked(digest)) {
                return false; // linked again since it was listed
            }
            store.delete(digest);
            return true;
        });
    }

    /** Stored bytes that no row records, older than the cutoff. */
    private List<BlobStore.Entry> orphanBlobs(Instant cutoff) {
        List<BlobStore.Entry> found = new ArrayList<>();
        try {
            store.forEachBlob(entry -> {
                if (entry.modified().isBefore(cutoff)) {
                    try {
                        if (!meta.blobRecorded(Digest.parse(entry.name()))) {
                            found.add(entry);
                        }
                    } catch (RegistryException notADigest) {
                        // not the store's naming: leave it alone
                    }
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return found;
    }
}
