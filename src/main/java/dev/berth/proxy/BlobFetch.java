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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
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
    /** No layer is this big; an upstream that sends more (or says it will) is not sending a layer. */
    static final long MAX_BLOB = 64L << 30;
    /** Free space a download always leaves on the disk, for pushes and the database. */
    static final long DISK_RESERVE = 1L << 30;
    private static final long SPACE_CHECK_EVERY = 64L << 20;
    /** How long a download nobody waits for any more goes on, in case a client comes back for it. */
    static final java.time.Duration ABANDON_AFTER = java.time.Duration.ofSeconds(10);

    private final BlobStore store;
    private final BlobLocks locks;
    private final Digest digest;
    private final String upload = UUID.randomUUID().toString();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition progress = lock.newCondition();
    private long length = -1;
    private boolean started;
    private long written;
    /** Every byte is here and hashes to the digest: readers may have them all. */
    private boolean verified;
    /** Committed to the store and linked: the blob is cached. */
    private boolean stored;
    private Exception failure;
    /** Readers and waiters: when none is left before the end, the download is abandoned. */
    private int interested;
    private volatile boolean abandoned;
    private volatile InputStream source;

    BlobFetch(BlobStore store, BlobLocks locks, Digest digest) {
        this.store = store;
        this.locks = locks;
        this.digest = digest;
    }

    /** What to do with the verified bytes (link them to the repository) before readers get the last byte. */
    interface Completion {
        void complete(long size);
    }

    /** The upstream's answer: its body, and its length (-1 if it gave none). */
    record Source(InputStream body, long length) {
    }

    /**
     * Downloads the blob into the store once the upstream has answered. Runs on its own thread, started before
     * the answer comes, so that the upload is ready by then (a file, or an object in a bucket, made while the
     * upstream is still answering, not before the first byte); and it survives every reader going away, so the
     * blob is cached anyway. An answer that fails ({@code answer} completes exceptionally) was a refusal the
     * caller has told its client about: the upload is discarded without a word.
     */
    void download(CompletableFuture<Source> answer, Completion completion) {
        try {
            try (BlobStore.UploadSink sink = prepareUpload()) {
                Source from = answer.join();
                source = from.body();
                try (InputStream in = from.body()) {
                    receive(in, from.length(), sink);
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
            if (!(e instanceof CompletionException)) {
                LOG.warn("download of {} failed and was discarded: {}", digest, abandoned ? "nobody was waiting for it any more"
                        : e instanceof Refused ? e.getMessage() : UpstreamClient.reason(e));
            }
            finish(e);
        }
    }

    /** The upload the bytes go to; a store that cannot make it is the registry's fault, not the upstream's. */
    private BlobStore.UploadSink prepareUpload() throws Refused {
        try {
            store.createUpload(upload, digest.algorithm());
            return store.openUploadSink(upload);
        } catch (IOException | RuntimeException e) {
            LOG.warn("cannot store a download of {}: {}", digest, e.toString());
            throw new Refused("the registry could not store it");
        }
    }

    /** Writes the upstream's bytes into the upload, letting readers follow, and verifies them at the end. */
    private void receive(InputStream in, long declaredLength, BlobStore.UploadSink sink) throws IOException {
        if (declaredLength > MAX_BLOB) {
            throw new Refused("upstream announced " + declaredLength + " bytes, more than any layer");
        }
        if (declaredLength >= 0 && store.usableSpace() - declaredLength < DISK_RESERVE) {
            throw new Refused("not enough free disk for " + declaredLength + " bytes");
        }
        lock.lock();
        try {
            length = declaredLength;
            started = true;
            progress.signalAll();
        } finally {
            lock.unlock();
        }
        byte[] chunk = new byte[CHUNK];
        long nextSpaceCheck = SPACE_CHECK_EVERY;
        int n;
        while ((n = in.read(chunk)) >= 0) {
            if (abandoned) {
                throw new Refused("nobody was waiting for it any more");
            }
            // Take whatever else has already arrived: fewer, larger writes and reader wake-ups, and no waiting
            // for more than the network has delivered.
            for (int more; n < chunk.length && in.available() > 0 && (more = in.read(chunk, n, chunk.length - n)) > 0; ) {
                n += more;
            }
            if (n == 0) {
                continue;
            }
            sink.write(chunk, 0, n);
            if (declaredLength >= 0 && sink.size() > declaredLength) {
                throw new Refused("upstream sent more than the " + declaredLength + " bytes it announced");
            }
            if (sink.size() > MAX_BLOB) {
                throw new Refused("upstream sent more than any layer holds");
            }
            if (sink.size() >= nextSpaceCheck) {
                nextSpaceCheck += SPACE_CHECK_EVERY;
                if (store.usableSpace() < DISK_RESERVE) {
                    throw new Refused("the disk is nearly full");
                }
            }
            advance(sink.size());
            // Readers are virtual threads too, woken on the same few carriers: while the upstream delivers at
            // full speed this loop never blocks, and without a yield it would keep its carrier from them.
            Thread.yield();
        }
        if (declaredLength >= 0 && written != declaredLength) {
            throw new Refused("upstream sent " + written + " of the " + declaredLength + " bytes it announced");
        }
        var hashed = sink.digest();
        if (hashed.isPresent()) {
            if (!hashed.get().equals(digest)) {
                throw new Refused("upstream bytes hash to " + hashed.get() + ", not " + digest);
            }
            release();
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

    /** Waits until the download has started (or failed) and returns its length: -1 if the upstream gave none. */
    long awaitLength() throws IOException {
        lock.lock();
        try {
            while (!started && !verified && failure == null) {
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
        interest(+1);
        try {
            await(() -> stored);
        } finally {
            interest(-1);
        }
    }

    /**
     * Counts who is waiting for this download. When nobody is any more and the bytes are not all here yet, the
     * download is abandoned after {@link #ABANDON_AFTER} unless someone comes back: a client that gave up must
     * not leave Berth downloading (an upstream that never stops sending would fill the disk).
     */
    private void interest(int delta) {
        lock.lock();
        try {
            interested += delta;
            if (interested > 0 || verified || failure != null) {
                return;
            }
        } finally {
            lock.unlock();
        }
        Thread.ofVirtual().name("berth-fetch-watch").start(() -> {
            try {
                Thread.sleep(ABANDON_AFTER);
            } catch (InterruptedException e) {
                return;
            }
            lock.lock();
            try {
                if (interested > 0 || verified || failure != null) {
                    return;
                }
                abandoned = true;
            } finally {
                lock.unlock();
            }
            InputStream in = source;
            if (in != null) {
                try {
                    in.close(); // unblocks a read waiting on an upstream that trickles
                } catch (IOException ignored) {
                    // the download fails either way
                }
            }
        });
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
            // Berth's own findings are told as they are; a broken connection's details (which name the HTTP
            // client's internals) stay in the log.
            String why = failure instanceof Refused ? failure.getMessage() : "the connection to the upstream broke off";
            throw new FetchFailedException("upstream download of " + digest + " failed: " + why, failure);
        }
    }

    /** Berth stopped a download on purpose; the reason is fit to tell a client. */
    private static final class Refused extends IOException {
        Refused(String reason) {
            super(reason);
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
        interest(+1);
        return new Reader(false);
    }

    /**
     * A reader that gives nothing until every byte is verified: for a range, whose bytes would otherwise reach
     * the client before the digest could vouch for them.
     */
    SeekableByteChannel verifiedReader() throws IOException {
        interest(+1);
        return new Reader(true);
    }

    /** Waits at most {@code max} for the blob to be stored; false if it was not (yet). */
    boolean awaitStored(java.time.Duration max) {
        long deadline = System.nanoTime() + max.toNanos();
        lock.lock();
        try {
            while (!stored && failure == null) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                progress.awaitNanos(left);
            }
            return stored;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            lock.unlock();
        }
    }

    private final class Reader implements SeekableByteChannel {
        private final boolean verifiedOnly;
        private SeekableByteChannel file;
        private long position;
        private boolean open = true;

        Reader(boolean verifiedOnly) {
            this.verifiedOnly = verifiedOnly;
        }

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
            if (verifiedOnly) {
                awaitVerified();
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

        /**
         * The blob's length, or -1 while the upstream has not said it (a chunked answer): the body is then
         * streamed without a length. A verified-only reader waits for the whole and always knows.
         */
        @Override
        public long size() throws IOException {
            long known = awaitLength();
            if (known < 0 && verifiedOnly) {
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
            if (!open) {
                return;
            }
            open = false;
            interest(-1);
            if (file != null) {
                file.close();
            }
        }
    }
}
