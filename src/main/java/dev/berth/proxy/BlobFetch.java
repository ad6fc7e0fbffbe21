package dev.berth.proxy;

import dev.berth.oci.Digest;
import dev.berth.registry.BlobLocks;
import dev.berth.store.BlobStore;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.NonWritableChannelException;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.NoSuchFileException;
import java.util.UUID;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A cold blob on its way from upstream: written into an upload and hashed as it arrives, while any number of
 * clients read it from the same file. Readers are held back from the last byte until the digest has been
 * verified, so a client never receives a whole body whose bytes were wrong: on a mismatch (or a broken
 * download) every reader's stream fails and nothing is kept. Verified bytes are released to readers before
 * they are made durable (fsync, rename, database row): a client need not wait for the disk, and the cache
 * still records the blob only once it is safely stored.
 */
final class BlobFetch {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(BlobFetch.class);
    private static final int CHUNK = 256 * 1024;

    private final BlobStore store;
    private final BlobLocks locks;
    private final Digest digest;
    private final String upload = UUID.randomUUID().toString();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition progress = lock.newCondition();
    private long length = -1;
    private long written;
    /** Every byte is here and hashes to the digest: readers may have them all. */
    private boolean verified;
    /** Committed to the store and linked: the blob is cached. */
    private boolean stored;
    private Exception failure;

    BlobFetch(BlobStore store, BlobLocks locks, Digest digest) {
        this.store = store;
        this.locks = locks;
        this.digest = digest;
    }

    /** What to do with the verified bytes (link them to the repository) before readers get the last byte. */
    interface Completion {
        void complete(long size);
    }

    /**
     * Downloads {@code source} (of {@code declaredLength} bytes, or -1 if unknown) into the store. Runs on its own
     * thread and survives every reader going away, so the blob is cached anyway.
     */
    void download(InputStream source, long declaredLength, Completion completion) {
        try {
            store.createUpload(upload, digest.algorithm());
            lock.lock();
            try {
                length = declaredLength;
                progress.signalAll();
            } finally {
                lock.unlock();
            }
            try (InputStream in = source; BlobStore.UploadSink sink = store.openUploadSink(upload)) {
                byte[] chunk = new byte[CHUNK];
                int n;
                while ((n = in.read(chunk)) >= 0) {
                    // Take whatever else has already arrived: fewer, larger writes and reader wake-ups, and no
                    // waiting for more than the network has delivered.
                    for (int more; n < chunk.length && in.available() > 0 && (more = in.read(chunk, n, chunk.length - n)) > 0; ) {
                        n += more;
                    }
                    if (n == 0) {
                        continue;
                    }
                    sink.write(chunk, 0, n);
                    if (declaredLength >= 0 && sink.size() > declaredLength) {
                        throw new IOException("upstream sent more than the " + declaredLength + " bytes it announced");
                    }
                    advance(sink.size());
                }
                if (declaredLength >= 0 && written != declaredLength) {
                    throw new IOException("upstream sent " + written + " of the " + declaredLength + " bytes it announced");
                }
                var hashed = sink.digest();
                if (hashed.isPresent()) {
                    if (!hashed.get().equals(digest)) {
                        throw new IOException("upstream bytes hash to " + hashed.get() + ", not " + digest);
                    }
                    release();
                }
            }
            locks.with(digest, () -> {
                long size = store.commitUpload(upload, digest); // verifies again when the hash above was not kept
                completion.complete(size);
                return null;
            });
            finish(null);
        } catch (Exception e) {
            try {
                store.deleteUpload(upload);
            } catch (IOException ignored) {
                // the upload is abandoned either way
            }
            LOG.warn("download of {} failed and was discarded: {}", digest, e.getMessage());
            finish(e);
        }
    }

    private void advance(long size) {
        lock.lock();
        try {
            written = size;
            progress.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** The bytes are verified: readers may have the last one. */
    private void release() {
        lock.lock();
        try {
            verified = true;
            if (length < 0) {
                length = written;
            }
            progress.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private void finish(Exception failed) {
        lock.lock();
        try {
            if (failed == null) {
                stored = true;
                verified = true;
                if (length < 0) {
                    length = written;
                }
            } else {
                failure = failed;
            }
            progress.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Waits until the download has started (or failed) and returns its length, or -1 until known. */
    long awaitLength() throws IOException {
        lock.lock();
        try {
            while (length < 0 && !verified && failure == null) {
                progress.awaitUninterruptibly();
            }
            if (!verified) {
                throwIfFailed();
            }
            return length;
        } finally {
            lock.unlock();
        }
    }

    /** Blocks until the blob is stored and linked (for callers that build on it, such as sync). */
    void awaitStored() throws IOException {
        await(() -> stored);
    }

    /** Blocks until every byte is here and verified. */
    private void awaitVerified() throws IOException {
        await(() -> verified);
    }

    private void await(java.util.function.BooleanSupplier done) throws IOException {
        lock.lock();
        try {
            while (!done.getAsBoolean() && failure == null) {
                try {
                    progress.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new java.io.InterruptedIOException("interrupted while waiting for " + digest);
                }
            }
            if (!done.getAsBoolean()) {
                throwIfFailed();
            }
        } finally {
            lock.unlock();
        }
    }

    private void throwIfFailed() throws IOException {
        if (failure != null) {
            throw new FetchFailedException("upstream download of " + digest + " failed: " + failure.getMessage(), failure);
        }
    }

    /** How many bytes from the start a reader may have now; blocks until there are more than {@code position}. */
    private long readable(long position) throws IOException {
        lock.lock();
        try {
            while (true) {
                if (!verified) {
                    throwIfFailed(); // verified bytes stay readable even if storing them fails afterwards
                }
                long allowed = verified ? written : Math.max(0, written - 1);
                if (allowed > position || (verified && position >= written)) {
                    return allowed;
                }
                progress.awaitUninterruptibly();
            }
        } finally {
            lock.unlock();
        }
    }

    /** A channel over the blob as it arrives; reads block until bytes are there (or fail with the download). */
    SeekableByteChannel reader() throws IOException {
        return new Reader();
    }

    private final class Reader implements SeekableByteChannel {
        private SeekableByteChannel file;
        private long position;
        private boolean open = true;

        private SeekableByteChannel file() throws IOException {
            if (file == null) {
                try {
                    file = store.readUpload(upload);
                } catch (NoSuchFileException committed) {
                    awaitStored(); // it was renamed into place: read the stored blob
                    file = store.open(digest);
                }
            }
            return file;
        }

        @Override
        public int read(ByteBuffer dst) throws IOException {
            if (!open) {
                throw new ClosedChannelException();
            }
            long allowed = readable(position);
            if (position >= allowed) {
                return -1;
            }
            int room = (int) Math.min(dst.remaining(), allowed - position);
            ByteBuffer slice = dst.slice().limit(room);
            SeekableByteChannel f = file();
            f.position(position);
            int n = f.read(slice);
            if (n > 0) {
                dst.position(dst.position() + n);
                position += n;
            }
            return n;
        }

        @Override
        public int write(ByteBuffer src) {
            throw new NonWritableChannelException();
        }

        @Override
        public long position() {
            return position;
        }

        @Override
        public SeekableByteChannel position(long newPosition) {
            position = newPosition;
            return this;
        }

        @Override
        public long size() throws IOException {
            long known = awaitLength();
            if (known < 0) {
                awaitVerified();
                return written;
            }
            return known;
        }

        @Override
        public SeekableByteChannel truncate(long size) {
            throw new NonWritableChannelException();
        }

        @Override
        public boolean isOpen() {
            return open;
        }

        @Override
        public void close() throws IOException {
            open = false;
            if (file != null) {
                file.close();
            }
        }
    }
}
