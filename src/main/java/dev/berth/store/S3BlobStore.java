package dev.berth.store;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.berth.oci.Digest;
import dev.berth.oci.DigestAlgorithm;
import dev.berth.oci.ErrorCode;
import dev.berth.oci.RegistryException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.TreeMap;
import java.util.UUID;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.apache5.Apache5HttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.ObjectIdentifier;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * Blobs in an S3-compatible bucket: {@code <prefix>/blobs/<algorithm>/<first two hex>/<hex>}, as on disk.
 *
 * <p>An upload lives in the bucket too, so that any node can continue it: {@code <prefix>/uploads/<id>/info} says it
 * exists, and every append becomes one object, {@code <prefix>/uploads/<id>/<offset>}, named by where its bytes
 * start ({@code touched} marks one still arriving). An append is first written to a local spool file (hashed on the way, so memory stays flat whatever the
 * chunk size) and then sent; a chunk that breaks off part-way keeps what arrived, as on disk. A commit checks the
 * digest (with the running hash when this node saw every byte, else by reading the pieces back) and only then
 * writes the blob's key: a blob key only ever names verified bytes, since an S3 object appears whole or not at
 * all. Downloads written through a {@link UploadSink} (pull-through) stay in the local spool until committed, so
 * that readers can follow them byte by byte; a node's spool is its own, like its single flight.
 */
public final class S3BlobStore implements BlobStore {
    private static final Logger LOG = LoggerFactory.getLogger(S3BlobStore.class);
    private static final Pattern UPLOAD_ID = Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
    /** Objects up to this size are sent in one request; larger ones as multipart uploads of parts this size. */
    private static final long PART = 16L * 1024 * 1024;
    /** S3's smallest part (but the last) and largest single copy. */
    private static final long MIN_PART = 5L * 1024 * 1024;
    private static final long MAX_COPY = 5L * 1024 * 1024 * 1024;
    private static final long GIB = 1024L * 1024 * 1024;
    /** S3's most parts in one multipart upload, with room to spare. */
    private static final long MAX_PARTS = 9_000;
    private static final int COPY_BUFFER = 256 * 1024;
    /** Blobs up to this size are kept in memory once read (manifests and configs, mostly). */
    private static final long SMALL = 64 * 1024;
    /** How often a chunk still arriving is marked as alive for garbage collection on other nodes. */
    private static final long TOUCH_EVERY = java.util.concurrent.TimeUnit.SECONDS.toNanos(20);

    private final S3Client s3;
    private final String bucket;
    private final String prefix;
    private final Path spool;
    /** The spool's file system, looked up once (each lookup reads the mount table). */
    private final java.nio.file.FileStore spoolDisk;
    /** Hashes of uploads as far as this node wrote them; a miss only costs reading the pieces back at commit. */
    private final Cache<String, RunningHash> hashes = Caffeine.newBuilder()
            .expireAfterAccess(Duration.ofHours(1)).maximumSize(10_000).build();
    /** Small blobs that hashed to their digest when read (see {@link #open}), up to 64 MiB in all. */
    private final Cache<Digest, byte[]> small = Caffeine.newBuilder()
            .maximumWeight(64L * 1024 * 1024).weigher((Digest d, byte[] b) -> b.length + 100).build();

    public S3BlobStore(S3Client s3, String bucket, String prefix, Path spool) throws IOException {
        this.s3 = s3;
        this.bucket = bucket;
        this.prefix = prefix == null || prefix.isEmpty() ? "" : prefix + "/";
        this.spool = spool;
        Files.createDirectories(spool);
        this.spoolDisk = Files.getFileStore(spool);
        try (var leftovers = Files.newDirectoryStream(spool)) {
            for (Path file : leftovers) {
                Files.deleteIfExists(file); // a spool outlives no process: what it held is either sent or lost
            }
        }
    }

    /**
     * A client for {@code endpoint} (null: AWS itself) in {@code region}. Sends no optional checksums, which not
     * every S3-compatible service accepts.
     */
    public static S3Client client(String region, URI endpoint, boolean pathStyle, String accessKey, String secretKey) {
        AwsCredentialsProvider credentials = accessKey == null
                ? DefaultCredentialsProvider.builder().build()
                : StaticCredentialsProvider.create(AwsBasicCredentials.create(accessKey, secretKey));
        var builder = S3Client.builder()
                .region(Region.of(region))
                .forcePathStyle(pathStyle)
                .credentialsProvider(credentials)
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                .httpClientBuilder(Apache5HttpClient.builder().maxConnections(256)
                        .connectionTimeout(Duration.ofSeconds(10)).socketTimeout(Duration.ofSeconds(60)))
                // Throttling (SlowDown) and 5xx are retried with jittered exponential back-off, more patiently
                // than the SDK's default of three attempts: a push should ride out a busy bucket.
                .overrideConfiguration(o -> o.retryStrategy(AwsRetryStrategy.standardRetryStrategy().toBuilder()
                        .maxAttempts(6).build()));
        if (endpoint != null) {
            builder.endpointOverride(endpoint);
        }
        return builder.build();
    }

    /** Checks at start-up that the bucket answers, so that a wrong name or key stops the start, not the first push. */
    public void check() throws IOException {
        try {
            s3.headBucket(b -> b.bucket(bucket));
        } catch (S3Exception e) {
            throw new IOException(switch (e.statusCode()) {
                case 404 -> "the bucket does not exist (storageDriver.bucket)";
                case 301, 400 -> "the bucket is in another region than storageDriver.region, or the request was"
                        + " refused (" + e.statusCode() + ")";
                case 401, 403 -> "access denied: the credentials were refused or may not use this bucket"
                        + " (storageDriver.accesskey and secretkey, or the AWS credential chain)";
                default -> "the service answered " + e.statusCode();
            }, e);
        } catch (SdkException e) {
            String reason = e.getMessage();
            throw new IOException("cannot reach the service: " + reason
                    + (reason != null && reason.contains("SSL") ? " (an https:// endpoint that speaks plain HTTP?"
                    + " write regionendpoint as http://host:port, or set secure: false)" : ""), e);
        }
    }

    @Override
    public String location() {
        return "s3://" + bucket + "/" + prefix.replaceAll("/$", "");
    }

    /**
     * Marks the bucket prefix as the blobs of database {@code database} ({@code <prefix>/berth-store.json}), or
     * refuses when it already belongs to another: a second registry on the same blobs would collect them all as
     * unrecorded.
     */
    @Override
    public void bindTo(String database) throws IOException {
        String key = prefix + "berth-store.json";
        String mine = "{\"database\":\"" + database + "\"}";
        if (sizeOf(key).isPresent()) {
            String found = call(() -> s3.getObjectAsBytes(g -> g.bucket(bucket).key(key))).asUtf8String();
            if (!found.equals(mine)) {
                throw new IllegalStateException(location() + " holds the blobs of another Berth database ("
                        + key + " says " + found + "); give this registry a bucket or rootdirectory of its own, or"
                        + " point it at that registry's database");
            }
            return;
        }
        call(() -> s3.putObject(p -> p.bucket(bucket).key(key), RequestBody.fromString(mine)));
    }

    @Override
    public boolean reachable() {
        try {
            check();
            return true;
        } catch (IOException e) {
            LOG.warn("the S3 bucket {} does not answer: {}", bucket, e.getMessage());
            return false;
        }
    }

    // --- blobs ---------------------------------------------------------------------------------------------

    @Override
    public OptionalLong size(Digest digest) throws IOException {
        return sizeOf(blobKey(digest));
    }

    /**
     * Opens a blob. Small ones (manifests, configs: what every pull asks for first) are kept in memory once read
     * and found to hash to their digest, so a warm pull costs no request to the bucket for them. Safe on every
     * node: content behind a digest never changes, and a blob that is deleted is forgotten by the database
     * before any read would reach this store.
     */
    @Override
    public SeekableByteChannel open(Digest digest) throws IOException {
        byte[] kept = small.getIfPresent(digest);
        if (kept != null) {
            return new BytesChannel(kept);
        }
        ObjectChannel channel = new ObjectChannel(blobKey(digest));
        if (channel.size() > SMALL) {
            return channel;
        }
        byte[] bytes;
        try (channel) {
            ByteBuffer buffer = ByteBuffer.allocate((int) channel.size());
            while (buffer.hasRemaining() && channel.read(buffer) >= 0) {
                // fill
            }
            bytes = buffer.array();
        }
        if (Digest.compute(digest.algorithm(), bytes).equals(digest)) {
            small.put(digest, bytes);
        }
        return new BytesChannel(bytes);
    }

    @Override
    public void put(Digest digest, byte[] content) throws IOException {
        Digest actual = Digest.compute(digest.algorithm(), content);
        if (!actual.equals(digest)) {
            throw mismatch(digest, actual);
        }
        if (size(digest).isEmpty()) {
            call(() -> s3.putObject(p -> p.bucket(bucket).key(blobKey(digest)), RequestBody.fromBytes(content)));
        }
    }

    @Override
    public boolean delete(Digest digest) throws IOException {
        small.invalidate(digest);
        String key = blobKey(digest);
        if (sizeOf(key).isEmpty()) {
            return false;
        }
        call(() -> s3.deleteObject(d -> d.bucket(bucket).key(key)));
        return true;
    }

    // --- uploads -------------------------------------------------------------------------------------------

    @Override
    public void createUpload(String id, DigestAlgorithm algorithm) throws IOException {
        String info = uploadPrefix(id) + "info";
        if (sizeOf(info).isPresent()) {
            throw new IllegalStateException("upload " + id + " already exists");
        }
        call(() -> s3.putObject(p -> p.bucket(bucket).key(info), RequestBody.fromString(algorithm.label())));
        hashes.put(id, new RunningHash(algorithm));
    }

    @Override
    public long uploadSize(String id) throws IOException {
        Path local = spoolPath(id);
        if (Files.exists(local)) {
            return Files.size(local);
        }
        return pieces(id).size();
    }

    @Override
    public long appendToUpload(String id, InputStream content) throws IOException {
        Pieces pieces = pieces(id);
        long start = pieces.size();
        RunningHash known = hashes.getIfPresent(id);
        RunningHash hash = known != null && known.covers(pieces) ? known.copy() : null;
        String key = pieceKey(id, start);
        Path piece = spool.resolve(id + "." + UUID.randomUUID() + ".piece");
        IOException broken = null;
        long written = 0;
        long touched = touch(id);
        try {
            try (FileChannel out = FileChannel.open(piece, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                byte[] chunk = new byte[COPY_BUFFER];
                try {
                    int n;
                    while ((n = content.read(chunk)) >= 0) {
                        ByteBuffer buffer = ByteBuffer.wrap(chunk, 0, n);
                        while (buffer.hasRemaining()) {
                            out.write(buffer);
                        }
                        if (hash != null) {
                            hash.update(chunk, 0, n);
                        }
                        written += n;
                        if (System.nanoTime() - touched > TOUCH_EVERY) {
                            touched = touch(id);
                        }
                    }
                } catch (IOException e) {
                    broken = e; // the sender went away: keep what arrived, as the file store does
                }
            }
            if (written > 0) {
                sendFile(piece, key, written);
            }
        } finally {
            Files.deleteIfExists(piece);
        }
        if (hash != null) {
            if (written > 0) {
                hash.pieces.add(key);
            }
            hashes.put(id, hash);
        } else {
            hashes.invalidate(id);
        }
        if (broken != null) {
            throw broken;
        }
        return start + written;
    }

    /**
     * Marks an upload as written to now, for garbage collection on every node: a chunk on its way shows in the
     * bucket only when it is whole, and a slow one must not look abandoned meanwhile. Returns when, as nanoTime.
     */
    private long touch(String id) throws IOException {
        call(() -> s3.putObject(p -> p.bucket(bucket).key(uploadPrefix(id) + "touched"), RequestBody.empty()));
        return System.nanoTime();
    }

    @Override
    public UploadSink openUploadSink(String id) throws IOException {
        Path local = spoolPath(id);
        if (!Files.exists(local) && pieces(id).size() > 0) {
            throw new IllegalStateException("upload " + id + " already has bytes in the bucket");
        }
        FileChannel out = FileChannel.open(local, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        long size = out.size();
        RunningHash known = hashes.getIfPresent(id);
        RunningHash hash = known != null && known.offset == size ? known : null;
        if (hash == null) {
            hashes.invalidate(id);
        }
        out.position(size);
        return new SpoolSink(out, size, hash);
    }

    /** Appends to a local spool file, hashing as it goes; the bucket sees the bytes at commit. */
    private static final class SpoolSink implements UploadSink {
        private final FileChannel out;
        private final RunningHash hash;
        private long size;

        SpoolSink(FileChannel out, long size, RunningHash hash) {
            this.out = out;
            this.size = size;
            this.hash = hash;
        }

        @Override
        public void write(byte[] bytes, int offset, int length) throws IOException {
            ByteBuffer buffer = ByteBuffer.wrap(bytes, offset, length);
            while (buffer.hasRemaining()) {
                out.write(buffer);
            }
            size += length;
            if (hash != null) {
                hash.update(bytes, offset, length);
            }
        }

        @Override
        public long size() {
            return size;
        }

        @Override
        public Optional<Digest> digest() {
            return hash != null && hash.offset == size ? Optional.of(hash.snapshot()) : Optional.empty();
        }

        @Override
        public void close() throws IOException {
            out.close();
        }
    }

    @Override
    public SeekableByteChannel readUpload(String id) throws IOException {
        return FileChannel.open(spoolPath(id), StandardOpenOption.READ);
    }

    @Override
    public void truncateUpload(String id, long size) throws IOException {
        Path local = spoolPath(id);
        if (Files.exists(local)) {
            try (FileChannel out = FileChannel.open(local, StandardOpenOption.WRITE)) {
                out.truncate(size);
            }
        } else {
            for (Piece piece : pieces(id).list()) {
                if (piece.offset() >= size) {
                    call(() -> s3.deleteObject(d -> d.bucket(bucket).key(piece.key())));
                } else if (piece.end() > size) {
                    long keep = size - piece.offset();
                    byte[] head = call(() -> s3.getObjectAsBytes(g -> g.bucket(bucket).key(piece.key())
                            .range("bytes=0-" + (keep - 1)))).asByteArray();
                    call(() -> s3.putObject(p -> p.bucket(bucket).key(piece.key()), RequestBody.fromBytes(head)));
                    hashes.invalidate(id);
                }
            }
        }
        RunningHash hash = hashes.getIfPresent(id);
        if (hash != null && hash.offset != size) {
            hashes.invalidate(id);
        }
    }

    @Override
    public long commitUpload(String id, Digest expected) throws IOException {
        Path local = spoolPath(id);
        RunningHash hash = hashes.getIfPresent(id);
        long size;
        if (Files.exists(local)) {
            size = Files.size(local);
            Digest actual = hash != null && hash.offset == size && hash.algorithm == expected.algorithm()
                    ? hash.snapshot() : hashFile(local, expected.algorithm());
            if (!actual.equals(expected)) {
                throw mismatch(expected, actual);
            }
            if (size(expected).isEmpty()) {
                sendFile(local, blobKey(expected), size);
            }
        } else {
            Pieces pieces = pieces(id);
            size = pieces.size();
            // The node's own hash counts only if the bucket holds exactly the pieces it hashed: another node's
            // piece (a client sending two chunks at once through two nodes) means reading everything back.
            Digest actual = hash != null && hash.covers(pieces) && hash.algorithm == expected.algorithm()
                    ? hash.snapshot() : hashPieces(pieces, expected.algorithm());
            if (!actual.equals(expected)) {
                throw mismatch(expected, actual);
            }
            if (size(expected).isEmpty()) {
                assemble(pieces, blobKey(expected));
            }
        }
        deleteUpload(id);
        return size;
    }

    @Override
    public void deleteUpload(String id) throws IOException {
        String uploadPrefix = uploadPrefix(id);
        hashes.invalidate(id);
        Files.deleteIfExists(spoolPath(id));
        List<ObjectIdentifier> keys = new ArrayList<>();
        list(uploadPrefix, o -> keys.add(ObjectIdentifier.builder().key(o.key()).build()));
        for (int from = 0; from < keys.size(); from += 1000) {
            List<ObjectIdentifier> batch = keys.subList(from, Math.min(keys.size(), from + 1000));
            call(() -> s3.deleteObjects(d -> d.bucket(bucket).delete(x -> x.objects(batch).quiet(true))));
        }
    }

    // --- housekeeping --------------------------------------------------------------------------------------

    @Override
    public void forEachBlob(Consumer<Entry> visitor) throws IOException {
        for (DigestAlgorithm algorithm : DigestAlgorithm.values()) {
            String blobPrefix = prefix + "blobs/" + algorithm.label() + "/";
            list(blobPrefix, o -> {
                String hex = o.key().substring(o.key().lastIndexOf('/') + 1);
                Digest digest;
                try {
                    digest = Digest.parse(algorithm.label() + ":" + hex);
                } catch (RegistryException notABlob) {
                    return; // a stray object is none of the store's business
                }
                if (o.key().equals(blobKey(digest))) {
                    visitor.accept(new Entry(digest.toString(), o.size(), o.lastModified()));
                }
            });
        }
    }

    @Override
    public boolean quarantine(Digest digest) throws IOException {
        small.invalidate(digest);
        String key = blobKey(digest);
        OptionalLong size = sizeOf(key);
        if (size.isEmpty()) {
            return false;
        }
        String aside = prefix + "quarantine/" + digest.algorithm().label() + "-" + digest.hex() + "-" + System.currentTimeMillis();
        copy(key, size.getAsLong(), aside);
        call(() -> s3.deleteObject(d -> d.bucket(bucket).key(key)));
        return true;
    }

    /** The local spool's room: the bucket itself has no end, but a download or chunk passes through here. */
    @Override
    public long usableSpace() throws IOException {
        return spoolDisk.getUsableSpace();
    }

    @Override
    public Optional<Instant> uploadModified(String id) throws IOException {
        Instant[] latest = {null};
        list(uploadPrefix(id), o -> {
            if (latest[0] == null || o.lastModified().isAfter(latest[0])) {
                latest[0] = o.lastModified();
            }
        });
        Path local = spoolPath(id);
        try {
            Instant touched = Files.getLastModifiedTime(local).toInstant();
            if (latest[0] == null || touched.isAfter(latest[0])) {
                latest[0] = touched;
            }
        } catch (NoSuchFileException notSpooled) {
            // only in the bucket
        }
        return Optional.ofNullable(latest[0]);
    }

    @Override
    public List<Entry> uploads() throws IOException {
        TreeMap<String, Entry> found = new TreeMap<>();
        String uploadsPrefix = prefix + "uploads/";
        list(uploadsPrefix, o -> {
            String rest = o.key().substring(uploadsPrefix.length());
            int slash = rest.indexOf('/');
            if (slash < 0 || !UPLOAD_ID.matcher(rest.substring(0, slash)).matches()) {
                return;
            }
            String id = rest.substring(0, slash);
            long bytes = rest.endsWith("/info") || rest.endsWith("/touched") ? 0 : o.size();
            found.merge(id, new Entry(id, bytes, o.lastModified()), (a, b) -> new Entry(id, a.size() + b.size(),
                    a.modified().isAfter(b.modified()) ? a.modified() : b.modified()));
        });
        return List.copyOf(found.values());
    }

    @Override
    public void close() {
        hashes.invalidateAll();
        s3.close();
    }

    // --- keys and pieces -----------------------------------------------------------------------------------

    private String blobKey(Digest digest) {
        return prefix + "blobs/" + digest.algorithm().label() + "/" + digest.hex().substring(0, 2) + "/" + digest.hex();
    }

    private String uploadPrefix(String id) {
        if (!UPLOAD_ID.matcher(id).matches()) {
            throw new IllegalArgumentException("not an upload id: " + id);
        }
        return prefix + "uploads/" + id + "/";
    }

    /** A new piece's key: where its bytes start, and a name of its own, so that no append can replace another. */
    private String pieceKey(String id, long offset) {
        return uploadPrefix(id) + String.format("%020d", offset) + "-" + UUID.randomUUID();
    }

    private static final Pattern PIECE = Pattern.compile("(\\d{20})-[0-9a-f-]{36}");

    private Path spoolPath(String id) {
        uploadPrefix(id); // validates
        return spool.resolve(id);
    }

    private record Piece(String key, long offset, long size) {
        long end() {
            return offset + size;
        }
    }

    /** An upload's pieces in order; they always follow on from one another, as each append starts at the end. */
    private record Pieces(List<Piece> list) {
        long size() {
            return list.isEmpty() ? 0 : list.getLast().end();
        }
    }

    /**
     * The upload's pieces. Two pieces that start at the same byte (two chunks sent at once, through two nodes)
     * leave the upload with no single content: it can only be started again.
     */
    private Pieces pieces(String id) throws IOException {
        String uploadPrefix = uploadPrefix(id);
        boolean[] exists = {false};
        List<Piece> found = new ArrayList<>();
        list(uploadPrefix, o -> {
            String name = o.key().substring(uploadPrefix.length());
            var piece = PIECE.matcher(name);
            if (name.equals("info")) {
                exists[0] = true;
            } else if (piece.matches()) {
                found.add(new Piece(o.key(), Long.parseLong(piece.group(1)), o.size()));
            }
        });
        if (!exists[0]) {
            throw new NoSuchFileException("upload " + id);
        }
        found.sort(java.util.Comparator.comparingLong(Piece::offset));
        long expected = 0;
        for (Piece piece : found) {
            if (piece.offset() != expected) {
                throw RegistryException.of(ErrorCode.BLOB_UPLOAD_INVALID, "upload " + id + " received chunks that"
                        + " overlap (sent at the same time?) and holds no single content; start the upload again");
            }
            expected = piece.end();
        }
        return new Pieces(List.copyOf(found));
    }

    private Digest hashPieces(Pieces pieces, DigestAlgorithm algorithm) throws IOException {
        MessageDigest md = algorithm.newMessageDigest();
        byte[] buffer = new byte[COPY_BUFFER];
        for (Piece piece : pieces.list()) {
            try (InputStream in = call(() -> s3.getObject(g -> g.bucket(bucket).key(piece.key())))) {
                int n;
                while ((n = in.read(buffer)) >= 0) {
                    md.update(buffer, 0, n);
                }
            }
        }
        return Digest.of(algorithm, md.digest());
    }

    /**
     * Writes the pieces, in order, as the object {@code key}: copied inside the bucket where S3 allows it (one
     * piece, or pieces that are all big enough to be parts), else read back and sent again.
     */
    private void assemble(Pieces pieces, String key) throws IOException {
        List<Piece> list = pieces.list();
        if (list.isEmpty()) {
            call(() -> s3.putObject(p -> p.bucket(bucket).key(key), RequestBody.empty()));
        } else if (list.size() == 1) {
            copy(list.getFirst().key(), list.getFirst().size(), key);
        } else if (list.subList(0, list.size() - 1).stream().allMatch(p -> p.size() >= MIN_PART)
                && list.stream().mapToLong(p -> Math.max(1, (p.size() + GIB - 1) / GIB)).sum() <= MAX_PARTS) {
            String upload = call(() -> s3.createMultipartUpload(c -> c.bucket(bucket).key(key))).uploadId();
            try {
                List<CompletedPart> parts = new ArrayList<>();
                for (Piece piece : list) {
                    copyParts(piece.key(), piece.size(), key, upload, parts);
                }
                complete(key, upload, parts);
            } catch (IOException | RuntimeException e) {
                abort(key, upload);
                throw e;
            }
        } else {
            Path joined = spool.resolve(UUID.randomUUID() + ".joined");
            try {
                try (FileChannel out = FileChannel.open(joined, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                    for (Piece piece : list) {
                        try (InputStream in = call(() -> s3.getObject(g -> g.bucket(bucket).key(piece.key())))) {
                            byte[] buffer = new byte[COPY_BUFFER];
                            int n;
                            while ((n = in.read(buffer)) >= 0) {
                                ByteBuffer b = ByteBuffer.wrap(buffer, 0, n);
                                while (b.hasRemaining()) {
                                    out.write(b);
                                }
                            }
                        }
                    }
                }
                sendFile(joined, key, pieces.size());
            } finally {
                Files.deleteIfExists(joined);
            }
        }
    }

    /** Copies an object inside the bucket: in one request up to S3's limit of 5 GiB, in parts beyond. */
    private void copy(String source, long size, String target) throws IOException {
        if (size <= MAX_COPY) {
            call(() -> s3.copyObject(c -> c.sourceBucket(bucket).sourceKey(source).destinationBucket(bucket)
                    .destinationKey(target)));
            return;
        }
        String upload = call(() -> s3.createMultipartUpload(c -> c.bucket(bucket).key(target))).uploadId();
        try {
            List<CompletedPart> parts = new ArrayList<>();
            copyParts(source, size, target, upload, parts);
            complete(target, upload, parts);
        } catch (IOException | RuntimeException e) {
            abort(target, upload);
            throw e;
        }
    }

    private void copyParts(String source, long size, String target, String upload, List<CompletedPart> parts)
            throws IOException {
        for (long[] range : copyRanges(size)) {
            String bytes = "bytes=" + range[0] + "-" + range[1];
            int number = parts.size() + 1;
            String etag = call(() -> s3.uploadPartCopy(c -> c.sourceBucket(bucket).sourceKey(source)
                    .destinationBucket(bucket).destinationKey(target).uploadId(upload).partNumber(number)
                    .copySourceRange(bytes))).copyPartResult().eTag();
            parts.add(CompletedPart.builder().partNumber(number).eTag(etag).build());
        }
    }

    /**
     * The parts a piece of {@code size} bytes is copied in, as inclusive byte ranges: equal parts of at most
     * 1 GiB, so that no part but an object's last is ever below S3's 5 MiB minimum.
     */
    static List<long[]> copyRanges(long size) {
        long count = Math.max(1, (size + GIB - 1) / GIB);
        long step = (size + count - 1) / count;
        List<long[]> ranges = new ArrayList<>();
        for (long from = 0; from < size; from += step) {
            ranges.add(new long[] {from, Math.min(size, from + step) - 1});
        }
        return ranges;
    }

    /** Sends a local file as the object {@code key}: one request when small, a multipart upload when large. */
    private void sendFile(Path file, String key, long size) throws IOException {
        if (size <= PART) {
            call(() -> s3.putObject(p -> p.bucket(bucket).key(key).contentLength(size), RequestBody.fromFile(file)));
            return;
        }
        String upload = call(() -> s3.createMultipartUpload(c -> c.bucket(bucket).key(key))).uploadId();
        long partSize = Math.max(PART, (size + MAX_PARTS - 1) / MAX_PARTS); // past 140 GiB, bigger parts
        try {
            List<CompletedPart> parts = new ArrayList<>();
            for (long from = 0; from < size; from += partSize) {
                long start = from;
                long length = Math.min(partSize, size - from);
                int number = parts.size() + 1;
                // Streamed from the file (again, if the SDK retries), never held in memory.
                RequestBody body = RequestBody.fromContentProvider(() -> slice(file, start, length), length,
                        "application/octet-stream");
                String etag = call(() -> s3.uploadPart(u -> u.bucket(bucket).key(key).uploadId(upload).partNumber(number)
                        .contentLength(length), body)).eTag();
                parts.add(CompletedPart.builder().partNumber(number).eTag(etag).build());
            }
            complete(key, upload, parts);
        } catch (IOException | RuntimeException e) {
            abort(key, upload);
            throw e;
        }
    }

    /** {@code length} bytes of {@code file} from {@code start}, as a stream. */
    private static InputStream slice(Path file, long start, long length) {
        try {
            FileChannel channel = FileChannel.open(file, StandardOpenOption.READ).position(start);
            InputStream whole = java.nio.channels.Channels.newInputStream(channel);
            return new java.io.FilterInputStream(whole) {
                private long left = length;

                @Override
                public int read() throws IOException {
                    if (left <= 0) {
                        return -1;
                    }
                    int b = super.read();
                    if (b >= 0) {
                        left--;
                    }
                    return b;
                }

                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    if (left <= 0) {
                        return -1;
                    }
                    int n = super.read(b, off, (int) Math.min(len, left));
                    if (n > 0) {
                        left -= n;
                    }
                    return n;
                }
            };
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void complete(String key, String upload, List<CompletedPart> parts) throws IOException {
        call(() -> s3.completeMultipartUpload(c -> c.bucket(bucket).key(key).uploadId(upload)
                .multipartUpload(m -> m.parts(parts))));
    }

    private void abort(String key, String upload) {
        try {
            s3.abortMultipartUpload(a -> a.bucket(bucket).key(key).uploadId(upload));
        } catch (SdkException e) {
            LOG.warn("could not abort the multipart upload {} of {}: {} (a bucket lifecycle rule removes it)",
                    upload, key, e.getMessage());
        }
    }

    private OptionalLong sizeOf(String key) throws IOException {
        try {
            return OptionalLong.of(s3.headObject(h -> h.bucket(bucket).key(key)).contentLength());
        } catch (NoSuchKeyException e) {
            return OptionalLong.empty();
        } catch (S3Exception e) {
            if (e.statusCode() == 404) {
                return OptionalLong.empty();
            }
            throw new IOException("S3 HEAD " + key + ": " + e.getMessage(), e);
        } catch (SdkException e) {
            throw new IOException("S3 HEAD " + key + ": " + e.getMessage(), e);
        }
    }

    private void list(String keyPrefix, Consumer<S3Object> visitor) throws IOException {
        call(() -> {
            s3.listObjectsV2Paginator(l -> l.bucket(bucket).prefix(keyPrefix)).contents().forEach(visitor);
            return null;
        });
    }

    private interface Call<T> {
        T run();
    }

    /** Runs an S3 request; the SDK's failures (after its own retries) become I/O errors. */
    private static <T> T call(Call<T> request) throws IOException {
        try {
            return request.run();
        } catch (NoSuchKeyException e) {
            throw (NoSuchFileException) new NoSuchFileException(e.getMessage()).initCause(e);
        } catch (SdkException e) {
            throw new IOException("S3: " + e.getMessage(), e);
        } catch (UncheckedIOException e) {
            throw e.getCause();
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

    /**
     * A stored object as a channel: one GET from the current position, opened on the first read and again only
     * when the position moves elsewhere (a range request). Closing before the end aborts the transfer rather
     * than draining the rest of a large blob.
     */
    private final class ObjectChannel implements SeekableByteChannel {
        private final String key;
        private ResponseInputStream<GetObjectResponse> stream;
        private long streamAt;
        private long position;
        private long size = -1;
        private boolean open = true;
        private byte[] chunk;

        ObjectChannel(String key) throws IOException {
            this.key = key;
            reopen(); // the first GET tells the size and whether the blob is there at all
        }

        private void reopen() throws IOException {
            closeStream();
            long from = position;
            stream = call(() -> s3.getObject(g -> g.bucket(bucket).key(key).range(from == 0 ? null : "bytes=" + from + "-")));
            streamAt = from;
            if (size < 0) {
                size = stream.response().contentLength();
            }
        }

        @Override
        public int read(ByteBuffer dst) throws IOException {
            if (position >= size) {
                return -1;
            }
            if (stream == null || streamAt != position) {
                reopen();
            }
            if (chunk == null) {
                chunk = new byte[COPY_BUFFER];
            }
            int n = stream.read(chunk, 0, Math.min(chunk.length, dst.remaining()));
            if (n < 0) {
                throw new IOException("S3 object " + key + " ended at byte " + position + " of " + size);
            }
            dst.put(chunk, 0, n);
            position += n;
            streamAt += n;
            return n;
        }

        @Override
        public int write(ByteBuffer src) {
            throw new java.nio.channels.NonWritableChannelException();
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
        public long size() {
            return size;
        }

        @Override
        public SeekableByteChannel truncate(long newSize) {
            throw new java.nio.channels.NonWritableChannelException();
        }

        @Override
        public boolean isOpen() {
            return open;
        }

        private void closeStream() {
            if (stream != null) {
                if (streamAt < size) {
                    stream.abort();
                }
                try {
                    stream.close();
                } catch (IOException ignored) {
                    // aborted or done
                }
                stream = null;
            }
        }

        @Override
        public void close() {
            open = false;
            closeStream();
        }
    }

    /** Bytes in memory as a read-only channel. */
    private static final class BytesChannel implements SeekableByteChannel {
        private final byte[] bytes;
        private long position;
        private boolean open = true;

        BytesChannel(byte[] bytes) {
            this.bytes = bytes;
        }

        @Override
        public int read(ByteBuffer dst) {
            if (position >= bytes.length) {
                return -1;
            }
            int n = (int) Math.min(dst.remaining(), bytes.length - position);
            dst.put(bytes, (int) position, n);
            position += n;
            return n;
        }

        @Override
        public int write(ByteBuffer src) {
            throw new java.nio.channels.NonWritableChannelException();
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
        public long size() {
            return bytes.length;
        }

        @Override
        public SeekableByteChannel truncate(long size) {
            throw new java.nio.channels.NonWritableChannelException();
        }

        @Override
        public boolean isOpen() {
            return open;
        }

        @Override
        public void close() {
            open = false;
        }
    }

    /** An upload's hash up to {@code offset}, and the keys of the pieces in the bucket that it covers. */
    private static final class RunningHash {
        final DigestAlgorithm algorithm;
        final MessageDigest digest;
        final List<String> pieces;
        long offset;

        RunningHash(DigestAlgorithm algorithm) {
            this(algorithm, algorithm.newMessageDigest(), 0, new ArrayList<>());
        }

        private RunningHash(DigestAlgorithm algorithm, MessageDigest digest, long offset, List<String> pieces) {
            this.algorithm = algorithm;
            this.digest = digest;
            this.offset = offset;
            this.pieces = pieces;
        }

        /** Whether this hash is of exactly these pieces: the ones this node wrote, and no other. */
        boolean covers(Pieces listed) {
            return offset == listed.size() && pieces.equals(listed.list().stream().map(Piece::key).toList());
        }

        void update(byte[] bytes, int from, int length) {
            digest.update(bytes, from, length);
            offset += length;
        }

        RunningHash copy() {
            try {
                return new RunningHash(algorithm, (MessageDigest) digest.clone(), offset, new ArrayList<>(pieces));
            } catch (CloneNotSupportedException e) {
                throw new IllegalStateException("JDK message digests are cloneable", e);
            }
        }

        Digest snapshot() {
            return Digest.of(algorithm, copy().digest.digest());
        }
    }
}
