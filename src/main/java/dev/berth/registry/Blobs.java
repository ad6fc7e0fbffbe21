package dev.berth.registry;

import dev.berth.meta.MetadataStore;
import dev.berth.meta.Removal;
import dev.berth.oci.Digest;
import dev.berth.oci.ErrorCode;
import dev.berth.oci.RegistryException;
import dev.berth.store.BlobStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.NoSuchFileException;

/** Reading and deleting the blobs of a repository. */
public final class Blobs {
    private final BlobStore store;
    private final MetadataStore meta;

    Blobs(BlobStore store, MetadataStore meta) {
        this.store = store;
        this.meta = meta;
    }

    /** The size of a blob the repository may serve; {@code BLOB_UNKNOWN} (or {@code NAME_UNKNOWN}) otherwise. */
    public long size(String repository, Digest digest) {
        return meta.linkedBlobSize(repository, digest).orElseThrow(() -> unknown(repository, digest));
    }

    /** Opens a blob the repository may serve. */
    public SeekableByteChannel open(String repository, Digest digest) {
        size(repository, digest);
        try {
            return store.open(digest);
        } catch (NoSuchFileException e) {
            throw new IllegalStateException("blob " + digest + " is linked to " + repository + " but its bytes are missing", e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Removes the blob from the repository (its bytes stay until garbage collection finds them unused). */
    public void delete(String repository, Digest digest) {
        Removal removal = meta.unlinkBlob(repository, digest);
        switch (removal.result()) {
            case REMOVED -> { }
            case NOT_FOUND -> throw unknown(repository, digest);
            case IN_USE -> throw RegistryException.of(ErrorCode.DENIED, 409,
                    "blob " + digest + " is used by " + removal.blocker() + " in this repository; delete that first");
        }
    }

    private RegistryException unknown(String repository, Digest digest) {
        if (!meta.repositoryExists(repository)) {
            return RegistryException.of(ErrorCode.NAME_UNKNOWN, "repository " + repository + " not found");
        }
        return RegistryException.of(ErrorCode.BLOB_UNKNOWN, "blob " + digest + " not found in " + repository);
    }
}
