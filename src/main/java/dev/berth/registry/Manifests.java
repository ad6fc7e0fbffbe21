package dev.berth.registry;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.berth.meta.ManifestRecord;
import dev.berth.meta.ManifestReference;
import dev.berth.meta.MetadataStore;
import dev.berth.meta.Removal;
import dev.berth.oci.Descriptor;
import dev.berth.oci.Digest;
import dev.berth.oci.DigestAlgorithm;
import dev.berth.oci.ErrorCode;
import dev.berth.oci.Manifest;
import dev.berth.oci.ManifestParser;
import dev.berth.oci.MediaTypes;
import dev.berth.oci.Names;
import dev.berth.oci.Reference;
import dev.berth.oci.RegistryException;
import dev.berth.store.BlobStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/** Pushing, pulling and deleting manifests and tags. */
public final class Manifests {
    /** The spec asks registries to take manifests of at least 4 MiB; Berth takes exactly that much. */
    public static final int MAX_SIZE = 4 * 1024 * 1024;
    /** Tags accepted in one push by digest ({@code ?tag=}); more is a 414. */
    public static final int MAX_TAGS_PER_PUSH = 50;

    private final BlobStore store;
    private final MetadataStore meta;
    private final Clock clock;
    private final BlobLocks blobLocks;
    /** Manifest bytes by digest: immutable content, so the cache never needs invalidating. */
    private final Cache<Digest, byte[]> contents = Caffeine.newBuilder()
            .maximumWeight(64L * 1024 * 1024)
            .<Digest, byte[]>weigher((digest, bytes) -> bytes.length)
            .build();

    Manifests(BlobStore store, MetadataStore meta, Clock clock, BlobLocks blobLocks) {
        this.blobLocks = blobLocks;
        this.store = store;
        this.meta = meta;
        this.clock = clock;
    }

    /** The manifest's row, for HEAD. */
    public ManifestRecord find(String repository, Reference reference) {
        return (reference.isDigest()
                ? meta.manifest(repository, reference.digest())
                : meta.taggedManifest(repository, reference.tag()))
                .orElseThrow(() -> unknown(repository, reference));
    }

    /** The manifest with its bytes, for GET. */
    public StoredManifest get(String repository, Reference reference) {
        ManifestRecord record = find(repository, reference);
        byte[] content = contents.get(record.digest(), this::load);
        return new StoredManifest(record.digest(), record.mediaType(), record.size(), content);
    }

    /**
     * Validates and stores a manifest pushed by tag or by digest, and points the reference's tag and
     * {@code extraTags} at it, each as {@code tagPolicy} allows. Bytes are stored exactly as given.
     */
    public PushedManifest put(String repository, Reference reference, List<String> extraTags, String contentType,
                              byte[] body, TagPolicy tagPolicy) {
        if (extraTags.size() > MAX_TAGS_PER_PUSH) {
            throw RegistryException.of(ErrorCode.TAG_INVALID, 414,
                    "at most " + MAX_TAGS_PER_PUSH + " tags may be pushed in one request");
        }
        Set<String> tags = new LinkedHashSet<>();
        if (!reference.isDigest()) {
            tags.add(reference.tag());
        }
        for (String tag : extraTags) {
            tags.add(Names.requireTag(tag));
        }
        Manifest manifest = ManifestParser.parse(body, contentType);
        DigestAlgorithm algorithm = reference.isDigest() ? reference.digest().algorithm() : DigestAlgorithm.SHA256;
        Digest digest = Digest.compute(algorithm, body);
        if (reference.isDigest() && !digest.equals(reference.digest())) {
            throw RegistryException.of(ErrorCode.DIGEST_INVALID,
                    "manifest content hashes to " + digest + ", not " + reference.digest());
        }
        List<ManifestReference> references = references(manifest);
        meta.checkReferences(repository, references);
        Digest subject = manifest.subject() == null ? null : manifest.subject().digest();
        ManifestRecord record = new ManifestRecord(repository, digest, manifest.mediaType(), body.length,
                manifest.referrerArtifactType(), subject,
                // Annotations are only ever served in referrers lists, so only referrers keep them.
                subject == null ? null : manifest.annotations(), clock.instant());
        blobLocks.with(digest, () -> {
            store.put(digest, body);
            meta.putManifest(record, references, List.copyOf(tags), (tag, current) -> tagPolicy.check(tag,
                    current == null ? TagPolicy.Change.CREATE
                            : current.equals(digest) ? TagPolicy.Change.KEEP : TagPolicy.Change.MOVE));
            return null;
        });
        contents.put(digest, body);
        return new PushedManifest(digest, subject, List.copyOf(tags));
    }

    /**
     * Stores a manifest fetched from an upstream, whose digest the caller has verified, and points {@code tag}
     * (if any) at it. Unlike a push, what it references need not be here yet: a mirror fetches blobs and child
     * manifests when they are asked for.
     */
    public ManifestRecord storeFetched(String repository, Digest digest, Manifest manifest, byte[] body, String tag) {
        Digest subject = manifest.subject() == null ? null : manifest.subject().digest();
        ManifestRecord record = new ManifestRecord(repository, digest, manifest.mediaType(), body.length,
                manifest.referrerArtifactType(), subject, subject == null ? null : manifest.annotations(), clock.instant());
        List<ManifestReference> optional = references(manifest).stream()
                .map(r -> new ManifestReference(r.digest(), r.kind(), r.size(), false)).toList();
        blobLocks.with(digest, () -> {
            store.put(digest, body);
            meta.putManifest(record, optional, tag == null ? List.of() : List.of(tag), (t, current) -> { });
            return null;
        });
        contents.put(digest, body);
        return meta.manifest(repository, digest).orElse(record);
    }

    /** Points a tag at a manifest already in the repository, on behalf of the mirror (no caller's rights apply). */
    public void retagFetched(String repository, ManifestRecord manifest, String tag) {
        meta.putManifest(manifest, List.of(), List.of(tag), (t, current) -> { });
    }

    /** Deletes a tag, or a manifest with all its tags. */
    public void delete(String repository, Reference reference) {
        if (!reference.isDigest()) {
            if (!meta.deleteTag(repository, reference.tag())) {
                throw unknown(repository, reference);
            }
            return;
        }
        Removal removal = meta.deleteManifest(repository, reference.digest());
        switch (removal.result()) {
            case REMOVED -> { }
            case NOT_FOUND -> throw unknown(repository, reference);
            case IN_USE -> throw RegistryException.of(ErrorCode.DENIED, 409, "manifest " + reference.digest()
                    + " is referenced by " + removal.blocker() + "; delete that first");
        }
    }

    private static List<ManifestReference> references(Manifest manifest) {
        List<ManifestReference> references = new ArrayList<>();
        if (manifest.config() != null) {
            references.add(blob(manifest.config(), true));
        }
        for (Descriptor layer : manifest.layers()) {
            references.add(blob(layer, !MediaTypes.isNonDistributable(layer.mediaType())));
        }
        for (Descriptor child : manifest.manifests()) {
            references.add(MediaTypes.isManifest(child.mediaType())
                    ? new ManifestReference(child.digest(), ManifestReference.Kind.MANIFEST, child.size(), true)
                    : blob(child, true));
        }
        return references;
    }

    private static ManifestReference blob(Descriptor descriptor, boolean required) {
        return new ManifestReference(descriptor.digest(), ManifestReference.Kind.BLOB, descriptor.size(), required);
    }

    private byte[] load(Digest digest) {
        try (SeekableByteChannel channel = store.open(digest)) {
            long size = channel.size();
            if (size > MAX_SIZE) {
                throw new IllegalStateException("stored manifest " + digest + " is larger than any manifest accepted");
            }
            ByteBuffer buffer = ByteBuffer.allocate((int) size);
            while (buffer.hasRemaining() && channel.read(buffer) >= 0) {
                // keep reading until full
            }
            return buffer.array();
        } catch (java.nio.file.NoSuchFileException e) {
            // Scrub set the bytes aside because they no longer matched their digest.
            throw RegistryException.of(ErrorCode.MANIFEST_UNKNOWN, "the stored bytes of manifest " + digest
                    + " are missing from the blob store (set aside by scrub as corrupt, or lost); push the manifest again");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read manifest " + digest, e);
        }
    }

    private RegistryException unknown(String repository, Reference reference) {
        if (!meta.repositoryExists(repository)) {
            return RegistryException.of(ErrorCode.NAME_UNKNOWN, "repository " + repository + " not found");
        }
        return RegistryException.of(ErrorCode.MANIFEST_UNKNOWN, "manifest " + reference + " not found in " + repository);
    }
}
