package dev.berth;

import dev.berth.config.BerthConfig;
import dev.berth.meta.JdbcMetadataStore;
import dev.berth.store.BlobStore;
import dev.berth.store.FileBlobStore;
import dev.berth.store.S3BlobStore;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;

/**
 * The data directory, opened by one process at a time: its blob store and database, behind a lock file
 * ({@code berth.lock}) that the server and the maintenance commands all take. Two processes on one directory
 * would each believe they alone decide what may be deleted.
 */
public final class DataDirectory implements AutoCloseable {
    private final Path root;
    private final FileChannel lockFile;
    private final FileLock lock;
    private final BlobStore blobs;
    private final JdbcMetadataStore meta;

    private DataDirectory(Path root, FileChannel lockFile, FileLock lock, BlobStore blobs, JdbcMetadataStore meta) {
        this.root = root;
        this.lockFile = lockFile;
        this.lock = lock;
        this.blobs = blobs;
        this.meta = meta;
    }

    /** Thrown when another process has the directory open. */
    public static final class InUseException extends IOException {
        InUseException(Path root) {
            super(root + " is in use by another Berth process (it holds " + root.resolve("berth.lock")
                    + "); stop it first, or point this one at another rootDirectory");
        }
    }

    /** Opens the embedded default: blobs and SQLite under {@code root}. */
    public static DataDirectory open(Path root, Clock clock) throws IOException {
        return open(new BerthConfig.Storage(root), clock);
    }

    /**
     * Opens the data directory and what {@code storage} names: SQLite in the directory, or PostgreSQL when
     * {@code storage.database} is set.
     */
    public static DataDirectory open(BerthConfig.Storage storage, Clock clock) throws IOException {
        Path root = storage.rootDirectory().toAbsolutePath();
        Files.createDirectories(root);
        FileChannel lockFile = FileChannel.open(root.resolve("berth.lock"), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE);
        FileLock lock = null;
        BlobStore blobs = null;
        try {
            try {
                lock = lockFile.tryLock();
            } catch (OverlappingFileLockException sameProcess) {
                lock = null;
            }
            if (lock == null) {
                throw new InUseException(root);
            }
            blobs = blobStore(root, storage.objectStore());
            BerthConfig.Database database = storage.database();
            JdbcMetadataStore meta = database == null
                    ? JdbcMetadataStore.sqlite(root.resolve("berth.db"), clock)
                    : JdbcMetadataStore.postgres(database.url(), database.user(), database.password(),
                            database.maxConnections(), clock);
            try {
                if (database != null) {
                    meta.claim(storage.objectStore() == null);
                }
                blobs.bindTo(meta.bindBlobStore(blobs.location()));
            } catch (IOException | RuntimeException e) {
                meta.close();
                throw e;
            }
            return new DataDirectory(root, lockFile, lock, blobs, meta);
        } catch (IOException | RuntimeException | Error e) {
            if (blobs != null) {
                blobs.close();
            }
            if (lock != null) {
                lock.release();
            }
            lockFile.close();
            throw e;
        }
    }

    public Path root() {
        return root;
    }

    /** Files under {@code root}, or the bucket {@code objectStore} names, spooling through {@code root}/spool. */
    private static BlobStore blobStore(Path root, BerthConfig.ObjectStore objectStore) throws IOException {
        if (objectStore == null) {
            return new FileBlobStore(root);
        }
        S3BlobStore store = new S3BlobStore(S3BlobStore.client(objectStore.region(), objectStore.endpoint(),
                objectStore.pathStyle(), objectStore.accessKey(), objectStore.secretKey()), objectStore.bucket(),
                objectStore.prefix(), root.resolve("spool"));
        try {
            store.check();
        } catch (IOException e) {
            store.close();
            throw new IOException("cannot use the S3 bucket " + objectStore.bucket() + ": " + e.getMessage(), e);
        }
        return store;
    }

    public BlobStore blobs() {
        return blobs;
    }

    public JdbcMetadataStore meta() {
        return meta;
    }

    @Override
    public void close() {
        try {
            meta.close();
        } finally {
            blobs.close();
            try {
                lock.release();
                lockFile.close();
            } catch (IOException ignored) {
                // the lock goes with the process anyway
            }
        }
    }
}
