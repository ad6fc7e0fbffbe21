package dev.berth.registry;

import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.LoadingCache;
import dev.berth.meta.MetadataStore;
import dev.berth.meta.UploadRecord;
import dev.berth.oci.Digest;
import dev.berth.oci.DigestAlgorithm;
import dev.berth.oci.ErrorCode;
import dev.berth.oci.RegistryException;
import dev.berth.store.BlobStore;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.NoSuchFileException;
import java.time.Clock;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * Blob uploads: sessions (POST, PATCH, PUT, GET, DELETE), single-request uploads and cross-repository mounts.
 * Requests to one session are serialised, so a chunk is checked against the size it will really append to.
 * A chunk that does not fit (out of order, or a length that disagrees with its range) changes nothing.
 */
public final class Uploads {
    private static final Pattern SESSION_ID = Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");

    private final BlobStore store;
    private final MetadataStore meta;
    private final Clock clock;
    private final BlobLocks blobLocks;
    /**
     * One lock per session, held while a chunk streams in: a slow client can only ever delay its own session.
     * Weak values: a lock lives while some request holds it, so the map never outgrows the uploads in flight.
     */
    private final LoadingCache<String, ReentrantLock> locks = Caffeine.newBuilder().weakValues()
            .build(id -> new ReentrantLock());

    Uploads(BlobStore store, MetadataStore meta, Clock clock, BlobLocks blobLocks) {
        this.blobLocks = blobLocks;
        this.store = store;
        this.meta = meta;
        this.clock = clock;
    }

    /**
     * Opens a session that will hash with {@code algorithm}. {@code owner} (null for an anonymous caller) is the
     * only caller the session will answer afterwards: another user, even one who may push to the repository,
     * cannot append to it, finish it or look at it.
     */
    public UploadStatus start(String repository, String owner, DigestAlgorithm algorithm) {
        String id = UUID.randomUUID().toString();
        try {
            // File first, then row: a crash in between leaves only an orphan file for garbage collection.
            store.createUpload(id, algorithm);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        meta.createUpload(new UploadRecord(id, repository, algorithm, owner, clock.instant()));
        return new UploadStatus(id, repository, 0);
    }

    /** A whole blob in one request ({@code POST ?digest=}). */
    public long putWhole(String repository, Digest digest, InputStream content) {
        String id = UUID.randomUUID().toString();
        try {
            store.createUpload(id, digest.algorithm());
            try {
                store.appendToUpload(id, content);
                return blobLocks.with(digest, () -> {
                    long size = store.commitUpload(id, digest);
                    meta.linkBlob(repository, digest, size);
                    return size;
                });
            } finally {
                store.deleteUpload(id);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Mounts a blob into {@code repository} from {@code from}, or, when {@code from} is null, from any
     * repository holding it that the caller may read. Returns false when there is nothing to mount.
     */
    public boolean mount(String repository, Digest digest, String from, Predicate<String> mayRead) {
        try {
            if (store.size(digest).isEmpty()) {
                return false;
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<String> sources = from != null ? List.of(from) : meta.repositoriesLinking(digest);
        for (String source : sources) {
            if (mayRead.test(source) && meta.mountBlob(repository, source, digest)) {
                return true;
            }
        }
        return false;
    }

    /** Where a session stands; no lock, so a status check never waits behind a chunk in flight. */
    public UploadStatus status(String repository, String owner, String id) {
        return new UploadStatus(id, repository, currentSize(session(repository, owner, id)));
    }

    /**
     * Appends a chunk ({@code PATCH}). With a {@code Content-Range} the chunk must start where the upload ends;
     * {@code contentLength} is -1 when the request is streamed without one.
     */
    public UploadStatus append(String repository, String owner, String id, ContentRange range, long contentLength,
                               InputStream body) {
        return locked(id, () -> {
            UploadRecord session = session(repository, owner, id);
            long size = appendChunk(session, range, contentLength, body);
            return new UploadStatus(id, repository, size);
        });
    }

    /** Closes a session ({@code PUT ?digest=}), with an optional last chunk, and returns the blob's size. */
    public long complete(String repository, String owner, String id, Digest digest, ContentRange range,
                         long contentLength, InputStream body) {
        return locked(id, () -> {
            UploadRecord session = session(repository, owner, id);
            if (range != null || contentLength != 0) {
                appendChunk(session, range, contentLength, body);
            }
            try {
                return blobLocks.with(digest, () -> {
                    long size = store.commitUpload(id, digest);
                    meta.completeUpload(id, repository, digest, size);
                    return size;
                });
            } catch (RegistryException e) {
                // The client's digest does not describe what it sent: the session is spent.
                discard(id);
                throw e;
            }
        });
    }

    public void cancel(String repository, String owner, String id) {
        locked(id, () -> {
            session(repository, owner, id);
            discard(id);
            return null;
        });
    }

    /** The {@code Range} header value for an upload of {@code size} bytes. */
    public static String rangeHeader(long size) {
        return "0-" + Math.max(0, size - 1);
    }

    public static String location(String repository, String id) {
        return "/v2/" + repository + "/blobs/uploads/" + id;
    }

    private long appendChunk(UploadRecord session, ContentRange range, long contentLength, InputStream body) {
        String id = session.id();
        long size = currentSize(session);
        if (range != null) {
            if (range.first() != size || range.last() < range.first()) {
                throw RegistryException.of(ErrorCode.BLOB_UPLOAD_INVALID, 416,
                                "chunk " + range.first() + "-" + range.last() + " does not continue the upload, which holds "
                                        + size + " bytes")
                        .withHeader("Range", rangeHeader(size))
                        .withHeader("Location", location(session.repository(), id))
                        .withHeader("Docker-Upload-UUID", id);
            }
            if (contentLength >= 0 && contentLength != range.length()) {
                throw RegistryException.of(ErrorCode.BLOB_UPLOAD_INVALID,
                        "Content-Length " + contentLength + " does not match Content-Range " + range.first() + "-" + range.last());
            }
        }
        long newSize;
        try {
            newSize = store.appendToUpload(id, body);
        } catch (IOException e) {
            // A chunk with a Content-Range is all or nothing; a streamed one keeps what arrived, to be resumed.
            if (range != null) {
                truncate(id, size);
            }
            throw new UncheckedIOException(e);
        }
        if (range != null && newSize - size != range.length()) {
            truncate(id, size);
            throw RegistryException.of(ErrorCode.BLOB_UPLOAD_INVALID, "chunk carried " + (newSize - size)
                    + " bytes but its Content-Range announced " + range.length());
        }
        return newSize;
    }

    private void truncate(String id, long size) {
        try {
            store.truncateUpload(id, size);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private UploadRecord session(String repository, String owner, String id) {
        if (!SESSION_ID.matcher(id).matches()) {
            throw unknownSession(id);
        }
        return meta.upload(id)
                .filter(u -> u.repository().equals(repository))
                .filter(u -> u.owner() == null || u.owner().equals(owner))
                .orElseThrow(() -> unknownSession(id));
    }

    private long currentSize(UploadRecord session) {
        try {
            return store.uploadSize(session.id());
        } catch (NoSuchFileException e) {
            meta.deleteUpload(session.id());
            throw unknownSession(session.id());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Discards a session nobody has written to since {@code cutoff} (garbage collection), under the session's
     * lock so that a chunk arriving at that moment either lands first or finds the session gone. Returns whether
     * it was discarded; {@code dryRun} only tells.
     */
    public boolean abandonIfIdle(String id, java.time.Instant cutoff, boolean dryRun) {
        ReentrantLock lock = locks.get(id);
        if (!lock.tryLock()) {
            return false; // a request is writing to it right now, however slowly: not abandoned, and never waited for
        }
        try {
            if (meta.upload(id).isEmpty()) {
                return false;
            }
            try {
                java.util.Optional<java.time.Instant> touched = store.uploadModified(id);
                if (touched.isPresent() && !touched.get().isBefore(cutoff)) {
                    return false;
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            if (!dryRun) {
                discard(id);
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    private void discard(String id) {
        try {
            store.deleteUpload(id);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        meta.deleteUpload(id);
    }

    private static RegistryException unknownSession(String id) {
        String shown = id.length() <= 64 ? id : id.substring(0, 64) + "…";
        return RegistryException.of(ErrorCode.BLOB_UPLOAD_UNKNOWN, "upload " + shown + " not found");
    }

    private <T> T locked(String id, Supplier<T> work) {
        ReentrantLock lock = locks.get(id);
        lock.lock();
        try {
            return work.get();
        } finally {
            lock.unlock();
        }
    }
}
