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
import java.util.List;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Reading and deleting the blobs of a repository. */
public final class Blobs {
    private static final Logger LOG = LoggerFactory.getLogger(Blobs.class);

    private final BlobStore store;
    private final MetadataStore meta;
    private final BlobLocks locks;

    Blobs(BlobStore store, MetadataStore meta, BlobLocks locks) {
        this.store = store;
        this.meta = meta;
        this.locks = locks;
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
            // Collected since the link was read, or lost from the disk: either way unknown from now on, so that a
            // client uploads it again (a HEAD must not keep saying it is here).
            forgetIfMissing(digest, r -> false);
            throw unknown(repository, digest);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Forgets a recorded blob whose file is missing (deleted by hand, a backup restored without it), checked
     * under its lock since a push may be writing it right now: every link and its row go, as for corrupt bytes
     * ({@link MetadataStore#forgetCorrupt}). Returns whether it was missing and recorded.
     */
    public boolean forgetIfMissing(Digest digest, Predicate<String> refetchable) {
        List<String> holders = locks.with(digest, () -> {
            try {
                if (store.size(digest).isPresent() || !meta.blobRecorded(digest)) {
                    return null;
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return meta.forgetCorrupt(digest, refetchable);
        });
        if (holders == null) {
            return false;
        }
        LOG.error("blob {} is recorded but its bytes are missing from the blob store; forgotten by {}. Mirrors fetch"
                + " it again on the next pull; elsewhere, push the image again.", digest,
                holders.isEmpty() ? "no repository" : String.join(", ", holders));
        return true;
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
