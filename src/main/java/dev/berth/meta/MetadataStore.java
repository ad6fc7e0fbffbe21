package dev.berth.meta;

import dev.berth.oci.Digest;
import java.io.Closeable;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.function.BiConsumer;

/**
 * The rows of the registry: repositories, which repository may serve which blob, manifests and what they
 * reference, tags, referrers and upload sessions. Every method is one transaction. Lists are in byte order of
 * their keys and start strictly after {@code after} (null for the start).
 */
public interface MetadataStore extends Closeable {

    boolean repositoryExists(String repository);

    List<String> repositories(String after, int limit);

    /** The bytes each repository holds: the sizes of the blobs and manifests it links, by repository name. */
    java.util.Map<String, Long> repositorySizes();

    /** A repository as people browse it: its tags, the bytes it holds and its latest push (null if none). */
    record RepositorySummary(String name, int tags, long size, java.time.Instant lastPush) {
    }

    /** Every repository's summary, by name; {@code name} non-null: that repository's only. */
    List<RepositorySummary> repositorySummaries(String name);

    /** A tag as people browse it: the manifest it names and the bytes of the blobs that manifest lists. */
    record TagSummary(String tag, ManifestRecord manifest, long blobBytes, java.time.Instant taggedAt) {
    }

    /** Tags after {@code after} (null: from the first) in name order, up to {@code limit}. */
    List<TagSummary> tagSummaries(String repository, String after, int limit);

    /**
     * The bytes a pull of a manifest moves: its own and those of the blobs it lists, and for an index those of
     * each manifest it lists, counted the same way (a layer two platforms share counts twice). Empty when the
     * repository holds no such manifest.
     */
    OptionalLong imageBytes(String repository, Digest manifest);

    /** The tags that name a manifest, in name order, at most {@code limit}. */
    List<String> tagsOf(String repository, Digest manifest, int limit);

    /**
     * Manifests nothing in the repository points at: no tag, no index listing them, no subject (referrers are
     * found through their subject). What garbage collection takes once they are old enough. Newest first.
     */
    List<ManifestRecord> untagged(String repository, int limit);

    /** The size of a blob the repository may serve, or empty. */
    OptionalLong linkedBlobSize(String repository, Digest digest);

    /** Records that the stored blob belongs to the repository (creating the repository if needed). */
    void linkBlob(String repository, Digest digest, long size);

    /** Repositories that may serve the blob. */
    List<String> repositoriesLinking(Digest digest);

    /** Links a blob of {@code source} into {@code target}; false when the source does not hold it. */
    boolean mountBlob(String target, String source, Digest digest);

    /** Unlinks a blob from a repository unless a manifest there still needs it. */
    Removal unlinkBlob(String repository, Digest digest);

    Optional<ManifestRecord> manifest(String repository, Digest digest);

    Optional<ManifestRecord> taggedManifest(String repository, String tag);

    /**
     * Checks, without writing, that a manifest's required references are present with their declared sizes:
     * the same checks {@link #putManifest} repeats in its transaction, made early so that a manifest that will
     * be refused costs no disk write.
     */
    void checkReferences(String repository, List<ManifestReference> references);

    /**
     * Stores a manifest whose bytes are already in the blob store, checks that its required references are
     * present in the repository with the declared sizes, and points {@code tags} at it, all in one transaction.
     * Before each tag is written, {@code tagCheck} is told the tag and the digest it points at now (null if
     * none), inside the transaction, and may throw to refuse. Throws {@code MANIFEST_BLOB_UNKNOWN} or
     * {@code MANIFEST_INVALID} (or what {@code tagCheck} throws) and changes nothing when a check fails.
     */
    void putManifest(ManifestRecord manifest, List<ManifestReference> references, List<String> tags,
                     BiConsumer<String, Digest> tagCheck);

    /** Removes a manifest and its tags unless another manifest of the repository (an index) references it. */
    Removal deleteManifest(String repository, Digest digest);

    boolean deleteTag(String repository, String tag);

    List<String> tags(String repository, String after, int limit);

    /** Manifests of the repository whose subject is {@code subject}, optionally of one artifact type. */
    List<ManifestRecord> referrers(String repository, Digest subject, String artifactType);

    /** When a mirrored tag was last checked against its upstream. */
    Optional<java.time.Instant> mirrorChecked(String repository, String tag);

    void markMirrorChecked(String repository, String tag, java.time.Instant at);

    void createUpload(UploadRecord upload);

    Optional<UploadRecord> upload(String id);

    /** Ends an upload session whose bytes are now the stored blob {@code digest}, linking it to the repository. */
    void completeUpload(String id, String repository, Digest digest, long size);

    void deleteUpload(String id);

    // --- garbage collection ------------------------------------------------------------------------------

    /** What collection took (or, in a dry run, would take) from one repository. */
    record Collected(List<String> tags, List<Digest> manifests, List<Digest> unlinked) {
    }

    /** How one repository is to be collected. */
    record Collection(List<TagStats> dropTags, boolean untagged, boolean orphanReferrers, java.time.Instant manifestCutoff,
                      java.time.Instant linkCutoff) {
    }

    /**
     * In one transaction: drops {@code dropTags} (retention), each only if it still points where and since when
     * it did when retention judged it (a tag pushed meanwhile stays); then, if {@code untagged}, removes the manifests
     * that no tag, index or (unless {@code orphanReferrers}) subject keeps, pushed before the manifest cutoff,
     * until none is left; then the links to blobs that no manifest of the repository uses, linked before the
     * link cutoff. With {@code dryRun}, the transaction is rolled back.
     */
    Collected collect(String repository, Collection how, boolean dryRun);

    /** A tag as retention sees it: when it was pushed (or moved), and when its manifest was last pulled (or null). */
    record TagStats(String tag, Digest digest, java.time.Instant pushedAt, java.time.Instant pulledAt) {
    }

    List<TagStats> tagStats(String repository);

    /** Adds pulls counted in memory: for each manifest, how many and the latest time. */
    void recordPulls(java.util.Map<ManifestKey, PullCount> pulls);

    record ManifestKey(String repository, Digest digest) {
    }

    record PullCount(long count, java.time.Instant last) {
    }

    /** Blobs recorded that no repository links, up to {@code limit}, with their sizes. */
    java.util.Map<Digest, Long> unlinkedBlobs(int limit);

    /** Every recorded blob's digest after {@code after} (null: from the start), in order, up to {@code limit}. */
    List<Digest> recordedBlobs(String after, int limit);

    /** How many repositories link a blob. */
    int linkCount(Digest digest);

    /** Forgets a blob if still no repository links it; true if it was forgotten. */
    boolean forgetBlobIfUnlinked(Digest digest);

    /** Whether a blob is recorded at all. */
    boolean blobRecorded(Digest digest);

    /**
     * Forgets a blob whose bytes turned out corrupt: every repository's link to it and its row. Where
     * {@code refetchable} says a repository can fetch it again (a mirror), manifests with these bytes go too, tags
     * and all, so the next pull fetches them afresh. Returns the repositories that held it.
     */
    List<String> forgetCorrupt(Digest digest, java.util.function.Predicate<String> refetchable);

    /** The ids of upload sessions started before {@code cutoff}. */
    List<String> uploadsStartedBefore(java.time.Instant cutoff);

    @Override
    void close();

    /** A lock held until closed. */
    interface Held extends AutoCloseable {
        @Override
        void close();
    }

    /**
     * Holds the lock of a blob for every process sharing this store (see BlobLocks), until closed; holds nothing
     * where one process owns the store.
     */
    default Held lockBlob(dev.berth.oci.Digest digest) {
        return () -> { };
    }

    /**
     * Runs {@code work} unless another process sharing this store is running work of that {@code name} right now
     * (garbage collection, scrub: one node at a time); empty when it was skipped.
     */
    default <T> java.util.Optional<T> ifAlone(String name, java.util.function.Supplier<T> work) {
        return java.util.Optional.ofNullable(work.get());
    }
}
