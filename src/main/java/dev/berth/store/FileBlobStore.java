package dev.berth.store;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.berth.oci.Digest;
import dev.berth.oci.DigestAlgorithm;
import dev.berth.oci.ErrorCode;
import dev.berth.oci.RegistryException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.UUID;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Blobs as files: {@code blobs/<algorithm>/<first two hex>/<hex>}, uploads as {@code uploads/<id>}. Uploads are
 * hashed while they are written; committing one fsyncs it and renames it into place, then fsyncs the directory,
 * so a blob path only ever names complete, verified, durable bytes.
 */
public final class FileBlobStore implements BlobStore {
    private static final Logger LOG = LoggerFactory.getLogger(FileBlobStore.class);
    private static final Pattern UPLOAD_ID = Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
    private static final String TEMP_SUFFIX = ".tmp";
    private static final int COPY_BUFFER = 128 * 1024;

    private final Path blobs;
    private final Path uploads;
    private final Path quarantine;
    /** Looked up once: finding a path's file system reads the mount table, a tenth of a millisecond each time. */
    private final FileStore disk;
    /** The file system's block size, and whether pushes are written past the page cache ({@link DirectAppend}). */
    private final int block;
    private final boolean directWrites;
    /**
     * Running hashes of uploads in progress. A hash that is lost (a restart, or a session idle for an hour) costs
     * nothing but time: commit then re-reads the file. Bounded, so abandoned sessions cannot pile up in memory.
     */
    private final Cache<String, RunningHash> hashes = Caffeine.newBuilder()
            .expireAfterAccess(Duration.ofHours(1)).maximumSize(10_000).build();

    public FileBlobStore(Path root) throws IOException {
        this(root, true);
    }

    /** With {@code direct} false, pushes go through the page cache even where the file system takes direct writes. */
    FileBlobStore(Path root, boolean direct) throws IOException {
        this.blobs = root.resolve("blobs");
        this.uploads = root.resolve("uploads");
        this.quarantine = root.resolve("quarantine");
        Files.createDirectories(blobs);
        Files.createDirectories(uploads);
        // Every blob directory, made durably before any blob goes in: a rename into a directory another commit
        // has only just made could otherwise be acknowledged before that directory's own entry is durable.
        for (DigestAlgorithm algorithm : DigestAlgorithm.values()) {
            createBlobDirectories(blobs.resolve(algorithm.label()));
        }
        this.disk = Files.getFileStore(uploads);
        this.block = (int) Math.min(Integer.MAX_VALUE, disk.getBlockSize());
        this.directWrites = direct && DirectAppend.supported(uploads, block);
        removeStaleTempFiles();
    }

    /** Whether pushes are written past the page cache here; for tests. */
    boolean writesPastPageCache() {
        return directWrites;
    }

    @Override
    public OptionalLong size(Digest digest) throws IOException {
        try {
            return OptionalLong.of(Files.size(blobPath(digest)));
        } catch (NoSuchFileException e) {
            return OptionalLong.empty();
        }
    }

    @Override
    public SeekableByteChannel open(Digest digest) throws IOException {
        return FileChannel.open(blobPath(digest), StandardOpenOption.READ);
    }

    /** The file of a stored blob, for callers that can serve a file more efficiently than a channel. */
    public Path blobPath(Digest digest) {
        return blobs.resolve(digest.algorithm().label()).resolve(digest.hex().substring(0, 2)).resolve(digest.hex());
    }

    @Override
    public void put(Digest digest, byte[] content) throws IOException {
        Digest actual = Digest.compute(digest.algorithm(), content);
        if (!actual.equals(digest)) {
            throw mismatch(digest, actual);
        }
        Path target = blobPath(digest);
        if (Files.exists(target)) {
            return;
        }
        Path temp = uploads.resolve(UUID.randomUUID() + TEMP_SUFFIX);
        try {
            try (FileChannel out = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                ByteBuffer buffer = ByteBuffer.wrap(content);
                while (buffer.hasRemaining()) {
                    out.write(buffer);
                }
                out.force(true);
            }
            moveIntoPlace(temp, target);
        } finally {
            Files.deleteIfExists(temp);
        }
    }

    @Override
    public boolean delete(Digest digest) throws IOException {
        return Files.deleteIfExists(blobPath(digest));
    }

    @Override
    public void createUpload(String id, DigestAlgorithm algorithm) throws IOException {
        Path path = uploadPath(id);
        try {
            Files.createFile(path);
        } catch (FileAlreadyExistsException e) {
            throw new IllegalStateException("upload " + id + " already exists", e);
        }
        hashes.put(id, new RunningHash(algorithm));
    }

    @Override
    public long uploadSize(String id) throws IOException {
        return Files.size(uploadPath(id));
    }

    @Override
    public long appendToUpload(String id, InputStream content) throws IOException {
        try (Sink sink = openSink(id, directWrites)) {
            byte[] chunk = new byte[COPY_BUFFER];
            int n;
            while ((n = content.read(chunk)) >= 0) {
                if (n > 0) {
                    sink.write(chunk, 0, n);
                }
            }
            return sink.size();
        }
    }

    @Override
    public Sink openUploadSink(String id) throws IOException {
        return openSink(id, false); // a download's readers follow its file as it grows: every write goes in at once
    }

    private Sink openSink(String id, boolean direct) throws IOException {
        Path path = uploadPath(id);
        // Readable too: a direct append reads back the partial block it starts in.
        FileChannel out = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            long size = out.size();
            RunningHash hash = hashes.getIfPresent(id);
            if (hash != null && hash.settled().offset != size) {
                // An earlier append failed between writing and hashing: re-read the file at commit instead.
                hashes.invalidate(id);
                hash = null;
            }
            out.position(size);
            return new Sink(out, direct ? DirectAppend.open(path, out, block) : null, size, hash);
        } catch (IOException | RuntimeException e) {
            out.close();
            throw e;
        }
    }

    @Override
    public SeekableByteChannel readUpload(String id) throws IOException {
        return FileChannel.open(uploadPath(id), StandardOpenOption.READ);
    }

    /**
     * Writes each piece (or buffers it for a direct write), then hands it to a background hasher: writing and
     * hashing overlap, as {@code tee} and {@code openssl dgst} do in a pipe. The running hash is only ever taken
     * for the file's when it covers exactly as many bytes as the file holds, so a write that failed after its
     * bytes were hashed costs a re-read at commit, never a wrong digest. Asking for the digest waits for the hasher
     * to catch up; closing does not, so that a commit can fsync the file while the last pieces are hashed (whoever
     * reads the running hash next settles it first).
     */
    private static final class Sink implements UploadSink {
        private final FileChannel out;
        /** Where a push's bytes go instead of {@code out}, when they are written past the page cache; else null. */
        private final DirectAppend direct;
        private final BackgroundHash hasher;
        private long size;

        Sink(FileChannel out, DirectAppend direct, long size, RunningHash hash) {
            this.out = out;
            this.direct = direct;
            this.size = size;
            this.hasher = hash == null ? null : new BackgroundHash(hash);
        }

        @Override
        public void write(byte[] bytes, int offset, int length) throws IOException {
            if (direct != null) {
                direct.write(bytes, offset, length);
            } else {
                ByteBuffer buffer = ByteBuffer.wrap(bytes, offset, length);
                while (buffer.hasRemaining()) {
                    out.write(buffer);
                }
            }
            size += length;
            if (hasher != null) {
                hasher.submit(bytes, offset, length);
            }
        }

        @Override
        public long size() {
            return size;
        }

        @Override
        public Optional<Digest> digest() throws IOException {
            if (hasher == null) {
                return Optional.empty();
            }
            RunningHash hash = hasher.drain();
            return hash.offset == size ? Optional.of(hash.snapshot()) : Optional.empty();
        }

        @Override
        public void close() throws IOException {
            try (out) {
                try {
                    if (direct != null) {
                        direct.close(); // first: whatever happens next, its buffer and permit go back
                    }
                } finally {
                    if (hasher != null) {
                        hasher.flush();
                    }
                }
            }
        }
    }

    /**
     * Feeds a running hash on another thread, in order: small writes are gathered into pieces of 256 KiB, and
     * at most a few pieces are held in memory; a writer that gets ahead waits for the hasher.
     */
    private static final class BackgroundHash {
        private static final int PIECE = 256 * 1024;
        private static final int DEPTH = 8;
        private static final Executor HASHERS = Executors.newThreadPerTaskExecutor(
                Thread.ofVirtual().name("berth-hash-", 0).factory());

        private final RunningHash hash;
        private final ArrayBlockingQueue<byte[]> free = new ArrayBlockingQueue<>(DEPTH);
        private CompletableFuture<Void> pending;
        private int allocated;
        private byte[] piece;
        private int filled;

        BackgroundHash(RunningHash hash) {
            this.hash = hash;
            this.pending = hash.pending;
        }

        void submit(byte[] bytes, int offset, int length) throws IOException {
            for (int from = offset, left = length; left > 0; ) {
                if (piece == null) {
                    piece = takeBuffer();
                    filled = 0;
                }
                int n = Math.min(left, PIECE - filled);
                System.arraycopy(bytes, from, piece, filled, n);
                filled += n;
                from += n;
                left -= n;
                if (filled == PIECE) {
                    dispatch();
                }
            }
        }

        private void dispatch() {
            byte[] full = piece;
            int n = filled;
            piece = null;
            filled = 0;
            pending = pending.thenRunAsync(() -> {
                hash.update(full, 0, n);
                free.add(full);
            }, HASHERS);
        }

        private byte[] takeBuffer() throws IOException {
            byte[] buffer = free.poll();
            if (buffer != null) {
                return buffer;
            }
            if (allocated < DEPTH) {
                allocated++;
                return new byte[PIECE];
            }
            try {
                return free.take(); // the hasher is behind: wait for it rather than hold more in memory
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while hashing");
            }
        }

        /** Hands over the last, partial piece; the running hash is settled once it is hashed. */
        void flush() {
            if (piece != null && filled > 0) {
                dispatch();
            }
            hash.pending = pending;
        }

        /** Waits until every byte submitted so far is hashed. */
        RunningHash drain() {
            flush();
            return hash.settled();
        }
    }

    @Override
    public void truncateUpload(String id, long size) throws IOException {
        try (FileChannel out = FileChannel.open(uploadPath(id), StandardOpenOption.WRITE)) {
            out.truncate(size);
        }
        RunningHash hash = hashes.getIfPresent(id);
        if (hash != null && hash.settled().offset != size) {
            hashes.invalidate(id);
        }
    }

    @Override
    public long commitUpload(String id, Digest expected) throws IOException {
        Path path = uploadPath(id);
        long size = Files.size(path);
        // To the disk first: the fsync overlaps the hashing of the last pieces, and costs nothing to keep if
        // the digest turns out wrong.
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.WRITE)) {
            channel.force(true);
        }
        RunningHash hash = hashes.getIfPresent(id);
        Digest actual = hash != null && hash.settled().offset == size && hash.algorithm == expected.algorithm()
                ? hash.snapshot()
                : hashFile(path, expected.algorithm());
        if (!actual.equals(expected)) {
            throw mismatch(expected, actual);
        }
        hashes.invalidate(id);
        moveIntoPlace(path, blobPath(expected));
        return size;
    }

    @Override
    public void deleteUpload(String id) throws IOException {
        hashes.invalidate(id);
        Files.deleteIfExists(uploadPath(id));
    }

    @Override
    public void forEachBlob(java.util.function.Consumer<Entry> visitor) throws IOException {
        for (DigestAlgorithm algorithm : DigestAlgorithm.values()) {
            Path dir = blobs.resolve(algorithm.label());
            if (!Files.isDirectory(dir)) {
                continue;
            }
            try (var files = Files.walk(dir, 2)) {
                for (Path file : (Iterable<Path>) files::iterator) {
                    if (file.getNameCount() - dir.getNameCount() != 2) {
                        continue;
                    }
                    Digest digest;
                    try {
                        digest = Digest.parse(algorithm.label() + ":" + file.getFileName());
                    } catch (RegistryException notABlob) {
                        continue; // a stray file is none of the store's business
                    }
                    try {
                        var attributes = Files.readAttributes(file, java.nio.file.attribute.BasicFileAttributes.class);
                        visitor.accept(new Entry(digest.toString(), attributes.size(),
                                attributes.lastModifiedTime().toInstant()));
                    } catch (NoSuchFileException gone) {
                        // deleted while walking
                    }
                }
            }
        }
    }

    @Override
    public String location() {
        return "files";
    }

    @Override
    public long usableSpace() throws IOException {
        return disk.getUsableSpace();
    }

    @Override
    public boolean quarantine(Digest digest) throws IOException {
        Path aside = quarantine.resolve(digest.algorithm().label() + "-" + digest.hex() + "-" + System.currentTimeMillis());
        Files.createDirectories(quarantine);
        try {
            Files.move(blobPath(digest), aside, StandardCopyOption.ATOMIC_MOVE);
        } catch (NoSuchFileException e) {
            return false;
        }
        fsyncDirectory(blobPath(digest).getParent());
        return true;
    }

    @Override
    public Optional<java.time.Instant> uploadModified(String id) throws IOException {
        try {
            return Optional.of(Files.getLastModifiedTime(uploadPath(id)).toInstant());
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    @Override
    public java.util.List<Entry> uploads() throws IOException {
        java.util.List<Entry> found = new java.util.ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(uploads)) {
            for (Path file : files) {
                String id = file.getFileName().toString();
                if (!UPLOAD_ID.matcher(id).matches()) {
                    continue;
                }
                try {
                    var attributes = Files.readAttributes(file, java.nio.file.attribute.BasicFileAttributes.class);
                    found.add(new Entry(id, attributes.size(), attributes.lastModifiedTime().toInstant()));
                } catch (NoSuchFileException gone) {
                    // committed or discarded while listing
                }
            }
        }
        return found;
    }

    @Override
    public void close() {
        hashes.invalidateAll();
    }

    private Path uploadPath(String id) {
        if (!UPLOAD_ID.matcher(id).matches()) {
            throw new IllegalArgumentException("not an upload id: " + id);
        }
        return uploads.resolve(id);
    }

    /** Renames a complete, fsynced file to its blob path and makes the rename itself durable. */
    private void moveIntoPlace(Path source, Path target) throws IOException {
        Path directory = target.getParent();
        if (Files.exists(target)) {
            // Same digest, same bytes: the copy already there stays, made durable in case the commit that put
            // it there failed after its rename.
            Files.deleteIfExists(source);
            fsyncDirectory(directory);
            return;
        }
        try {
            Files.move(source, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (NoSuchFileException e) {
            // A blob directory removed by hand since start-up. Not asked for on every commit: that costs an
            // exception each time, since Files.createDirectories learns that a directory exists by failing.
            if (!Files.exists(source)) {
                throw e;
            }
            createDirectoriesDurably(directory);
            Files.move(source, target, StandardCopyOption.ATOMIC_MOVE);
        }
        fsyncDirectory(directory);
    }

    /** The 256 directories of one algorithm's blobs, with one fsync of their parent for those made. */
    private static void createBlobDirectories(Path algorithmDirectory) throws IOException {
        createDirectoriesDurably(algorithmDirectory);
        boolean made = false;
        for (int prefix = 0; prefix < 256; prefix++) {
            Path directory = algorithmDirectory.resolve(String.format("%02x", prefix));
            if (!Files.isDirectory(directory)) {
                Files.createDirectory(directory);
                made = true;
            }
        }
        if (made) {
            fsyncDirectory(algorithmDirectory);
        }
    }

    /** Makes a directory and any missing parents, each made durable in its own parent as a file's rename is. */
    private static void createDirectoriesDurably(Path directory) throws IOException {
        if (Files.isDirectory(directory)) {
            return;
        }
        createDirectoriesDurably(directory.getParent());
        try {
            Files.createDirectory(directory);
        } catch (FileAlreadyExistsException raced) {
            // another commit made it meanwhile
        }
        fsyncDirectory(directory.getParent());
    }

    private static void fsyncDirectory(Path directory) throws IOException {
        try (FileChannel dir = FileChannel.open(directory, StandardOpenOption.READ)) {
            dir.force(true);
        }
    }

    private static Digest hashFile(Path path, DigestAlgorithm algorithm) throws IOException {
        MessageDigest md = algorithm.newMessageDigest();
        try (FileChannel in = FileChannel.open(path, StandardOpenOption.READ)) {
            ByteBuffer buffer = ByteBuffer.allocate(COPY_BUFFER);
            while (in.read(buffer) >= 0) {
                buffer.flip();
                md.update(buffer);
                buffer.clear();
            }
        }
        return Digest.of(algorithm, md.digest());
    }

    private static RegistryException mismatch(Digest expected, Digest actual) {
        return RegistryException.of(ErrorCode.DIGEST_INVALID,
                "digest mismatch: expected " + expected + ", content hashes to " + actual);
    }

    private void removeStaleTempFiles() throws IOException {
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(uploads, "*" + TEMP_SUFFIX)) {
            for (Path temp : stream) {
                LOG.debug("removing unfinished write {}", temp.getFileName());
                Files.deleteIfExists(temp);
            }
        }
    }

    /** An upload's hash up to {@code offset}. */
    private static final class RunningHash {
        final DigestAlgorithm algorithm;
        final MessageDigest digest;
        long offset;
        /** The hashing still under way for the upload's last append; done when the hash is up to date. */
        volatile CompletableFuture<Void> pending = CompletableFuture.completedFuture(null);

        RunningHash(DigestAlgorithm algorithm) {
            this.algorithm = algorithm;
            this.digest = algorithm.newMessageDigest();
        }

        /** Waits for hashing still under way, and returns this hash, up to date. */
        RunningHash settled() {
            pending.join();
            return this;
        }

        void update(byte[] bytes, int from, int length) {
            digest.update(bytes, from, length);
            offset += length;
        }

        Digest snapshot() {
            try {
                return Digest.of(algorithm, ((MessageDigest) digest.clone()).digest());
            } catch (CloneNotSupportedException e) {
                throw new IllegalStateException("JDK message digests are cloneable", e);
            }
        }
    }
}
