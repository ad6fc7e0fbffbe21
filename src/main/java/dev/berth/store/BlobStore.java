package dev.berth.store;

import dev.berth.oci.Digest;
import dev.berth.oci.DigestAlgorithm;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.SeekableByteChannel;
import java.util.OptionalLong;

/**
 * Content-addressed bytes: blobs (layers, configs and manifests alike) stored once by digest, and the upload
 * areas where blobs are assembled. A blob becomes visible only when it is whole, verified and durable.
 *
 * <p>Upload ids are chosen by the caller and must be lowercase UUIDs; this store never lets a name from a
 * request reach a file path in any other form.
 */
public interface BlobStore extends Closeable {

    /** The size of a stored blob, or empty when it is not stored. */
    OptionalLong size(Digest digest) throws IOException;

    /** Opens a stored blob for reading, positioned at its start; {@link java.nio.file.NoSuchFileException} if absent. */
    SeekableByteChannel open(Digest digest) throws IOException;

    /** Stores bytes under their digest, durably; the digest is checked. Storing bytes already present is a no-op. */
    void put(Digest digest, byte[] content) throws IOException;

    /** Removes a stored blob; returns whether it was there. Only garbage collection calls this. */
    boolean delete(Digest digest) throws IOException;

    /** Starts an empty upload that hashes with {@code algorithm} as bytes arrive. */
    void createUpload(String id, DigestAlgorithm algorithm) throws IOException;

    /** Bytes received so far; {@link java.nio.file.NoSuchFileException} if the upload does not exist. */
    long uploadSize(String id) throws IOException;

    /**
     * Appends everything {@code content} yields to the upload and returns its new size. If reading or writing
     * fails part-way, the bytes written so far stay: the upload is still consistent and may be resumed.
     */
    long appendToUpload(String id, InputStream content) throws IOException;

    /**
     * Opens an upload for appending piece by piece (hashing as it goes), for writers that want to know when
     * each piece is down, such as a pull-through download that others read while it arrives.
     */
    UploadSink openUploadSink(String id) throws IOException;

    /** Reads an upload while it is still being written; {@link java.nio.file.NoSuchFileException} once it is gone. */
    SeekableByteChannel readUpload(String id) throws IOException;

    /** Appends to an upload; closing it ends the append. */
    interface UploadSink extends Closeable {
        void write(byte[] bytes, int offset, int length) throws IOException;

        long size();

        /**
         * The digest of the whole upload as written so far, when the store hashed it on the way in; empty when
         * it did not (then only {@link #commitUpload} can tell). Lets a reader learn the bytes are right before
         * they are made durable.
         */
        java.util.Optional<Digest> digest() throws IOException;
    }

    /** Cuts an upload back to {@code size} bytes, undoing an append that turned out to be invalid. */
    void truncateUpload(String id, long size) throws IOException;

    /**
     * Verifies that the upload hashes to {@code expected} and makes it the stored blob of that digest, durably.
     * Returns the blob's size. On a mismatch, throws {@code DIGEST_INVALID} and leaves the upload as it was.
     */
    long commitUpload(String id, Digest expected) throws IOException;

    /** Discards an upload; unknown ids are ignored. */
    void deleteUpload(String id) throws IOException;

    // --- for garbage collection and scrub: never on a request's path -------------------------------------

    /** A stored blob or an upload as housekeeping sees it. */
    record Entry(String name, long size, java.time.Instant modified) {
    }

    /** Every stored blob (its digest as {@code name}), in no particular order. */
    void forEachBlob(java.util.function.Consumer<Entry> visitor) throws IOException;

    /**
     * Moves a stored blob aside, out of reach of every read, keeping it for inspection (scrub found it corrupt).
     * Returns whether it was there.
     */
    boolean quarantine(Digest digest) throws IOException;

    /** Bytes that may still be written before the store is full. */
    long usableSpace() throws IOException;

    /** When an upload was last written to; empty if there is no such upload. */
    java.util.Optional<java.time.Instant> uploadModified(String id) throws IOException;

    /** Where the blobs are, as the database records it: {@code files}, or {@code s3://bucket/prefix}. */
    String location();

    /**
     * Binds the store to the database with id {@code database} the first time, and afterwards refuses any other
     * (IllegalStateException). A local store has nothing to bind: the data directory holds its database.
     */
    default void bindTo(String database) throws IOException {
    }

    /** Whether the store answers now (for readiness); a local store always does. */
    default boolean reachable() {
        return true;
    }

    /** Releases what the store holds (caches, connections); never fails. */
    @Override
    void close();

    /** Every upload in progress (its id as {@code name}), in no particular order. */
    java.util.List<Entry> uploads() throws IOException;
}
