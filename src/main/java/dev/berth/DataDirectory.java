package dev.berth;

import dev.berth.meta.JdbcMetadataStore;
import dev.berth.store.FileBlobStore;
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
    private final FileBlobStore blobs;
    private final JdbcMetadataStore meta;

    private DataDirectory(Path root, FileChannel lockFile, FileLock lock, FileBlobStore blobs, JdbcMetadataStore meta) {
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

    public static DataDirectory open(Path configuredRoot, Clock clock) throws IOException {
        Path root = configuredRoot.toAbsolutePath();
        Files.createDirectories(root);
        FileChannel lockFile = FileChannel.open(root.resolve("berth.lock"), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE);
        FileLock lock = null;
        FileBlobStore blobs = null;
        try {
            try {
                lock = lockFile.tryLock();
            } catch (OverlappingFileLockException sameProcess) {
                lock = null;
            }
            if (lock == null) {
                throw new InUseException(root);
            }
            blobs = new FileBlobStore(root);
            JdbcMetadataStore meta = JdbcMetadataStore.sqlite(root.resolve("berth.db"), clock);
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

    public FileBlobStore blobs() {
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
