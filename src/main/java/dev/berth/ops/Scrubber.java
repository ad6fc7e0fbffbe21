package dev.berth.ops;

import dev.berth.config.Durations;
import dev.berth.meta.MetadataStore;
import dev.berth.oci.Digest;
import dev.berth.registry.BlobLocks;
import dev.berth.registry.Blobs;
import dev.berth.registry.Registry;
import dev.berth.store.BlobStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.NoSuchFileException;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Scrub: re-hashes every stored blob (layers, configs and manifests alike) and compares it with its digest. A
 * blob that no longer matches is set aside, never served again, and forgotten: clients are told it is unknown,
 * so a push uploads it again and a mirror fetches it again. Each finding is logged as an error and counted.
 */
public final class Scrubber {
    private static final Logger LOG = LoggerFactory.getLogger(Scrubber.class);

    /** What one pass found. */
    public record Report(int checked, long bytes, List<Digest> corrupt, Duration took) {
    }

    /** Told about every finished pass, for metrics. */
    public interface Listener {
        void finished(Report report);
    }

    private final BlobStore store;
    private final MetadataStore meta;
    private final BlobLocks locks;
    private final Blobs blobs;
    private final Predicate<String> refetchable;
    private final Listener listener;
    private final ReentrantLock running = new ReentrantLock();

    public Scrubber(BlobStore store, MetadataStore meta, Registry registry, Predicate<String> refetchable,
                    Listener listener) {
        this.store = store;
        this.meta = meta;
        this.locks = registry.locks();
        this.blobs = registry.blobs();
        this.refetchable = refetchable;
        this.listener = listener;
    }

    /**
     * One pass over everything stored; one at a time (on one node at a time where nodes share the database: a
     * node that finds another scrubbing skips its pass and reports nothing checked).
     */
    public Report run() {
        running.lock();
        long started = System.nanoTime();
        try {
            return meta.ifAlone("scrub", () -> pass(started)).orElseGet(() -> {
                LOG.info("scrub skipped: another node is scrubbing");
                return new Report(0, 0, List.of(), Duration.ofNanos(System.nanoTime() - started));
            });
        } finally {
            running.unlock();
        }
    }

    private Report pass(long started) {
        try {
            List<BlobStore.Entry> blobs = new ArrayList<>();
            store.forEachBlob(blobs::add);
            int checked = 0;
            long bytes = 0;
            List<Digest> corrupt = new ArrayList<>();
            ByteBuffer buffer = ByteBuffer.allocate(1024 * 1024);
            for (BlobStore.Entry entry : blobs) {
                Digest digest = Digest.parse(entry.name());
                Digest actual;
                try {
                    actual = hash(digest, buffer);
                } catch (NoSuchFileException deleted) {
                    continue; // collected since the listing
                }
                checked++;
                bytes += entry.size();
                if (!actual.equals(digest)) {
                    setAside(digest, actual);
                    corrupt.add(digest);
                }
            }
            corrupt.addAll(forgetMissing());
            Report report = new Report(checked, bytes, corrupt, Duration.ofNanos(System.nanoTime() - started));
            listener.finished(report);
            LOG.info("scrub checked {} blobs ({} bytes) in {}: {}", checked, bytes, Durations.format(report.took()),
                    corrupt.isEmpty() ? "all intact" : corrupt.size() + " corrupt, set aside");
            return report;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Recorded blobs whose files are gone (deleted by hand, a restored backup): forgotten like corrupt ones. */
    private List<Digest> forgetMissing() throws IOException {
        List<Digest> missing = new ArrayList<>();
        String after = null;
        List<Digest> page;
        do {
            page = meta.recordedBlobs(after, 1000);
            for (Digest digest : page) {
                if (store.size(digest).isEmpty() && blobs.forgetIfMissing(digest, refetchable)) {
                    missing.add(digest);
                }
            }
            after = page.isEmpty() ? null : page.get(page.size() - 1).toString();
        } while (page.size() == 1000);
        return missing;
    }

    private Digest hash(Digest digest, ByteBuffer buffer) throws IOException {
        MessageDigest md = digest.algorithm().newMessageDigest();
        try (SeekableByteChannel in = store.open(digest)) {
            buffer.clear();
            while (in.read(buffer) >= 0) {
                buffer.flip();
                md.update(buffer);
                buffer.clear();
            }
        }
        return Digest.of(digest.algorithm(), md.digest());
    }

    private void setAside(Digest digest, Digest actual) {
        List<String> holders = locks.with(digest, () -> {
            store.quarantine(digest);
            return meta.forgetCorrupt(digest, refetchable);
        });
        LOG.error("scrub: blob {} is corrupt (its bytes hash to {}); set aside in quarantine/ and forgotten by {}."
                        + " Mirrors fetch it again on the next pull; elsewhere, push the image again.", digest, actual,
                holders.isEmpty() ? "no repository" : String.join(", ", holders));
    }
}
