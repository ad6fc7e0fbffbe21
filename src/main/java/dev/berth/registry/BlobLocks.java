package dev.berth.registry;

import dev.berth.meta.MetadataStore;
import dev.berth.oci.Digest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One lock per digest (striped), held while a blob's bytes are put in place and recorded, and while garbage
 * collection checks that nothing records a blob and deletes its bytes. Without it, a push of bytes that are
 * already stored (the store keeps its copy) could be recorded just as collection deletes that copy. Within one
 * process by striped locks; across nodes sharing a database and bucket by the database's lock of the blob, taken
 * after the process's own (so a node asks the database once per blob at a time).
 */
public final class BlobLocks {
    private static final int STRIPES = 256;

    private final ReentrantLock[] stripes = new ReentrantLock[STRIPES];
    private final MetadataStore meta;

    public BlobLocks(MetadataStore meta) {
        this.meta = meta;
        for (int i = 0; i < STRIPES; i++) {
            stripes[i] = new ReentrantLock();
        }
    }

    /** Work that may fail with an I/O error. */
    public interface Work<T> {
        T run() throws IOException;
    }

    public <T> T with(Digest digest, Work<T> work) {
        ReentrantLock lock = stripes[Math.floorMod(digest.hex().hashCode(), STRIPES)];
        lock.lock();
        try (MetadataStore.Held shared = meta.lockBlob(digest)) {
            return work.run();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            lock.unlock();
        }
    }
}
