package dev.berth.meta;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.berth.oci.Digest;
import dev.berth.oci.DigestAlgorithm;
import dev.berth.oci.ErrorCode;
import dev.berth.oci.MediaTypes;
import dev.berth.oci.RegistryException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** What every {@link MetadataStore} must do; each implementation's test extends this. */
public abstract class MetadataStoreContract {
    protected MetadataStore meta;

    protected abstract MetadataStore newStore() throws Exception;

    @BeforeEach
    void open() throws Exception {
        meta = newStore();
    }

    @AfterEach
    void close() throws Exception {
        meta.close();
    }

    static Digest digest(String seed) {
        return Digest.compute(DigestAlgorithm.SHA256, seed.getBytes(StandardCharsets.UTF_8));
    }

    private static ManifestRecord manifest(String repository, Digest digest, Digest subject, String artifactType) {
        return new ManifestRecord(repository, digest, MediaTypes.OCI_MANIFEST, 100, artifactType, subject,
                subject == null ? Map.of() : Map.of("k", "v"), Instant.ofEpochMilli(1_000));
    }

    private void put(ManifestRecord record, List<ManifestReference> references, List<String> tags) {
        meta.putManifest(record, references, tags, (tag, current) -> { });
    }

    private static ManifestReference blob(Digest digest, long size) {
        return new ManifestReference(digest, ManifestReference.Kind.BLOB, size, true);
    }

    /** An image manifest in {@code repository} whose config and layer are linked first. */
    private Digest pushImage(String repository, String seed, List<String> tags) {
        Digest config = digest(seed + "-config");
        Digest layer = digest(seed + "-layer");
        meta.linkBlob(repository, config, 10);
        meta.linkBlob(repository, layer, 20);
        Digest m = digest(seed);
        put(manifest(repository, m, null, "application/vnd.oci.image.config.v1+json"),
                List.of(blob(config, 10), blob(layer, 20)), tags);
        return m;
    }

    @Test
    void summarisesRepositoriesAndTagsForBrowsing() {
        Digest m = pushImage("a/app", "img", List.of("v1", "v2", "v3"));
        pushImage("b/lib", "lib", List.of());
        List<MetadataStore.RepositorySummary> all = meta.repositorySummaries(null);
        assertThat(all).extracting(MetadataStore.RepositorySummary::name).containsExactly("a/app", "b/lib");
        MetadataStore.RepositorySummary app = all.get(0);
        assertThat(app.tags()).isEqualTo(3);
        assertThat(app.size()).as("config, layer and the manifest's own bytes, as repositorySizes counts them")
                .isEqualTo(130).isEqualTo(meta.repositorySizes().get("a/app"));
        assertThat(app.lastPush()).isNotNull();
        assertThat(meta.repositorySummaries("b/lib")).singleElement().satisfies(r -> assertThat(r.tags()).isZero());
        assertThat(meta.repositorySummaries("nope")).isEmpty();

        List<MetadataStore.TagSummary> page = meta.tagSummaries("a/app", null, 2);
        assertThat(page).extracting(MetadataStore.TagSummary::tag).containsExactly("v1", "v2");
        assertThat(page.get(0).manifest().digest()).isEqualTo(m);
        assertThat(page.get(0).blobBytes()).isEqualTo(30);
        assertThat(meta.tagSummaries("a/app", "v2", 2)).extracting(MetadataStore.TagSummary::tag).containsExactly("v3");
        assertThat(meta.tagSummaries("nope", null, 10)).isEmpty();
    }

    @Test
    void countsWhatAPullOfAnImageOrIndexMoves() {
        Digest image = pushImage("a/app", "img", List.of("v1"));
        assertThat(meta.imageBytes("a/app", image)).as("manifest 100, config 10, layer 20").hasValue(130);
        Digest other = pushImage("a/app", "other", List.of());
        Digest index = digest("index");
        put(manifest("a/app", index, null, null), List.of(new ManifestReference(image, ManifestReference.Kind.MANIFEST, 100, true),
                new ManifestReference(other, ManifestReference.Kind.MANIFEST, 100, true)), List.of("multi"));
        assertThat(meta.imageBytes("a/app", index)).as("the index's 100 and both images'").hasValue(100 + 130 + 130);
        assertThat(meta.imageBytes("b/none", image)).isEmpty();
        assertThat(meta.imageBytes("a/app", digest("missing"))).isEmpty();
    }

    @Test
    void findsTheTagsOfAManifestAndWhatNothingPointsAt() {
        Digest image = pushImage("a/app", "img", List.of("v1", "latest"));
        Digest child = pushImage("a/app", "child", List.of());
        Digest loose = pushImage("a/app", "loose", List.of());
        Digest index = digest("index");
        put(manifest("a/app", index, null, null), List.of(new ManifestReference(child, ManifestReference.Kind.MANIFEST, 100,
                true)), List.of("multi"));
        put(manifest("a/app", digest("sig"), image, "application/vnd.example.sig"), List.of(), List.of());
        assertThat(meta.tagsOf("a/app", image, 10)).containsExactly("latest", "v1");
        assertThat(meta.tagsOf("a/app", image, 1)).containsExactly("latest");
        assertThat(meta.tagsOf("a/app", child, 10)).isEmpty();
        assertThat(meta.untagged("a/app", 10)).as("not the index's child, not the referrer")
                .extracting(ManifestRecord::digest).containsExactly(loose);
        assertThat(meta.untagged("b/none", 10)).isEmpty();
    }

    @Test
    void linksBlobsPerRepository() {
        Digest d = digest("a");
        assertThat(meta.repositoryExists("r1")).isFalse();
        meta.linkBlob("r1", d, 42);
        meta.linkBlob("r1", d, 42);
        assertThat(meta.repositoryExists("r1")).isTrue();
        assertThat(meta.linkedBlobSize("r1", d)).hasValue(42);
        assertThat(meta.linkedBlobSize("r2", d)).as("a digest is not a key to another repository").isEmpty();
        assertThat(meta.repositoriesLinking(d)).containsExactly("r1");
    }

    @Test
    void mountsOnlyFromARepositoryThatHoldsTheBlob() {
        Digest d = digest("m");
        meta.linkBlob("src", d, 5);
        assertThat(meta.mountBlob("dst", "elsewhere", d)).isFalse();
        assertThat(meta.linkedBlobSize("dst", d)).isEmpty();
        assertThat(meta.mountBlob("dst", "src", d)).isTrue();
        assertThat(meta.linkedBlobSize("dst", d)).hasValue(5);
        assertThat(meta.repositoriesLinking(d)).containsExactly("dst", "src");
    }

    @Test
    void unlinksBlobsNoManifestNeeds() {
        Digest lonely = digest("lonely");
        meta.linkBlob("r", lonely, 1);
        assertThat(meta.unlinkBlob("r", digest("absent")).result()).isEqualTo(Removal.Result.NOT_FOUND);
        assertThat(meta.unlinkBlob("r", lonely).result()).isEqualTo(Removal.Result.REMOVED);
        assertThat(meta.linkedBlobSize("r", lonely)).isEmpty();
        assertThat(meta.repositoryExists("r")).as("an empty repository is gone").isFalse();
    }

    @Test
    void unlinksALayerAManifestUsesButNotTheManifestsOwnBytes() {
        Digest m = pushImage("r", "img", List.of("v1"));
        assertThat(meta.unlinkBlob("r", m).result()).isEqualTo(Removal.Result.IN_USE);
        assertThat(meta.unlinkBlob("r", digest("img-layer")).result()).isEqualTo(Removal.Result.REMOVED);
        assertThat(meta.linkedBlobSize("r", digest("img-layer"))).isEmpty();
        assertThat(meta.taggedManifest("r", "v1")).as("the manifest stays").isPresent();
    }

    @Test
    void storesManifestsAndTags() {
        Digest m = pushImage("r", "img", List.of("v1", "latest"));
        assertThat(meta.manifest("r", m)).get().satisfies(r -> {
            assertThat(r.mediaType()).isEqualTo(MediaTypes.OCI_MANIFEST);
            assertThat(r.size()).isEqualTo(100);
        });
        assertThat(meta.taggedManifest("r", "v1")).get().extracting(ManifestRecord::digest).isEqualTo(m);
        assertThat(meta.taggedManifest("r", "v2")).isEmpty();
        assertThat(meta.linkedBlobSize("r", m)).as("manifest bytes are served as a blob too").hasValue(100);
        assertThat(meta.tags("r", null, 10)).containsExactly("latest", "v1");
        Digest m2 = pushImage("r", "img2", List.of("latest"));
        assertThat(meta.taggedManifest("r", "latest")).get().extracting(ManifestRecord::digest).isEqualTo(m2);
        assertThat(meta.manifest("r", m)).as("moving a tag keeps the old manifest").isPresent();
    }

    @Test
    void aManifestWithAMissingReferenceChangesNothing() {
        Digest config = digest("c");
        meta.linkBlob("r", config, 10);
        Digest m = digest("m");
        assertThatThrownBy(() -> put(manifest("r", m, null, null),
                List.of(blob(config, 10), blob(digest("missing"), 3)), List.of("t")))
                .isInstanceOfSatisfying(RegistryException.class,
                        e -> assertThat(e.code()).isEqualTo(ErrorCode.MANIFEST_BLOB_UNKNOWN));
        assertThat(meta.manifest("r", m)).isEmpty();
        assertThat(meta.taggedManifest("r", "t")).isEmpty();
        assertThat(meta.linkedBlobSize("r", m)).isEmpty();
    }

    @Test
    void aReferenceWithTheWrongSizeIsInvalid() {
        Digest config = digest("c");
        meta.linkBlob("r", config, 10);
        assertThatThrownBy(() -> put(manifest("r", digest("m"), null, null), List.of(blob(config, 11)), List.of()))
                .isInstanceOfSatisfying(RegistryException.class,
                        e -> assertThat(e.code()).isEqualTo(ErrorCode.MANIFEST_INVALID));
    }

    @Test
    void optionalReferencesNeedNotBePresent() {
        Digest m = digest("nd");
        put(manifest("r", m, null, null),
                List.of(new ManifestReference(digest("foreign"), ManifestReference.Kind.BLOB, 5, false)), List.of());
        assertThat(meta.manifest("r", m)).isPresent();
    }

    @Test
    void indexesNeedTheirChildrenAsManifests() {
        Digest child = pushImage("r", "child", List.of());
        Digest blobOnly = digest("blob-only");
        meta.linkBlob("r", blobOnly, 100);
        Digest index = digest("index");
        assertThatThrownBy(() -> put(manifest("r", index, null, null),
                List.of(new ManifestReference(blobOnly, ManifestReference.Kind.MANIFEST, 100, true)), List.of()))
                .isInstanceOfSatisfying(RegistryException.class,
                        e -> assertThat(e.code()).isEqualTo(ErrorCode.MANIFEST_BLOB_UNKNOWN));
        put(manifest("r", index, null, null),
                List.of(new ManifestReference(child, ManifestReference.Kind.MANIFEST, 100, true)), List.of("multi"));
        Removal removal = meta.deleteManifest("r", child);
        assertThat(removal.result()).isEqualTo(Removal.Result.IN_USE);
        assertThat(removal.blocker()).contains(index.toString());
        assertThat(meta.deleteManifest("r", index).result()).isEqualTo(Removal.Result.REMOVED);
        assertThat(meta.deleteManifest("r", child).result()).isEqualTo(Removal.Result.REMOVED);
    }

    @Test
    void deletingAManifestRemovesItsTags() {
        Digest m = pushImage("r", "img", List.of("a", "b"));
        assertThat(meta.deleteManifest("r", digest("nope")).result()).isEqualTo(Removal.Result.NOT_FOUND);
        assertThat(meta.deleteManifest("r", m).result()).isEqualTo(Removal.Result.REMOVED);
        assertThat(meta.manifest("r", m)).isEmpty();
        assertThat(meta.tags("r", null, 10)).isEmpty();
        assertThat(meta.linkedBlobSize("r", m)).isEmpty();
        assertThat(meta.linkedBlobSize("r", digest("img-layer"))).as("layers stay until unlinked").hasValue(20);
    }

    @Test
    void retentionDropsATagOnlyWhereItStillPointsWhenJudged() {
        pushImage("r", "one", List.of("x"));
        List<MetadataStore.TagStats> judged = meta.tagStats("r");
        Digest two = pushImage("r", "two", List.of("x")); // pushed between the judgement and the collection
        MetadataStore.Collection drop = new MetadataStore.Collection(judged, false, false, Instant.EPOCH, Instant.EPOCH);
        assertThat(meta.collect("r", drop, false).tags()).isEmpty();
        assertThat(meta.taggedManifest("r", "x").orElseThrow().digest()).isEqualTo(two);
        MetadataStore.Collection now = new MetadataStore.Collection(meta.tagStats("r"), false, false, Instant.EPOCH,
                Instant.EPOCH);
        assertThat(meta.collect("r", now, false).tags()).containsExactly("x");
    }

    @Test
    void deletesTags() {
        Digest m = pushImage("r", "img", List.of("a", "b"));
        assertThat(meta.deleteTag("r", "a")).isTrue();
        assertThat(meta.deleteTag("r", "a")).isFalse();
        assertThat(meta.tags("r", null, 10)).containsExactly("b");
        assertThat(meta.manifest("r", m)).isPresent();
    }

    @Test
    void listsTagsInByteOrderAfterACursor() {
        pushImage("r", "img", List.of("b", "a", "B", "1", "a.b", "a-b", "_"));
        assertThat(meta.tags("r", null, 100)).containsExactly("1", "B", "_", "a", "a-b", "a.b", "b");
        assertThat(meta.tags("r", "B", 2)).containsExactly("_", "a");
        assertThat(meta.tags("r", "b", 2)).isEmpty();
    }

    @Test
    void listsRepositoriesInByteOrder() {
        for (String r : List.of("b", "a/b", "a", "a-b", "c/d/e")) {
            meta.linkBlob(r, digest(r), 1);
        }
        assertThat(meta.repositories(null, 100)).containsExactly("a", "a-b", "a/b", "b", "c/d/e");
        assertThat(meta.repositories("a-b", 2)).containsExactly("a/b", "b");
    }

    @Test
    void findsReferrersBySubjectAndArtifactType() {
        Digest subject = digest("subject");
        Digest sbom = digest("sbom");
        Digest sig = digest("sig");
        put(manifest("r", sbom, subject, "application/spdx+json"), List.of(), List.of());
        put(manifest("r", sig, subject, "application/vnd.dev.cosign"), List.of(), List.of());
        put(manifest("other", digest("x"), subject, "application/spdx+json"), List.of(), List.of());
        assertThat(meta.referrers("r", subject, null)).extracting(ManifestRecord::digest).containsExactlyInAnyOrder(sbom, sig);
        assertThat(meta.referrers("r", subject, "application/spdx+json")).singleElement()
                .satisfies(r -> {
                    assertThat(r.digest()).isEqualTo(sbom);
                    assertThat(r.annotations()).containsEntry("k", "v");
                });
        assertThat(meta.referrers("r", digest("no-referrers"), null)).isEmpty();
        assertThat(meta.referrers("unknown", subject, null)).isEmpty();
    }

    @Test
    void tracksUploads() {
        String id = UUID.randomUUID().toString();
        meta.createUpload(new UploadRecord(id, "r", DigestAlgorithm.SHA512, "alice", Instant.ofEpochMilli(5)));
        assertThat(meta.upload(id)).hasValue(new UploadRecord(id, "r", DigestAlgorithm.SHA512, "alice", Instant.ofEpochMilli(5)));
        assertThat(meta.repositoryExists("r")).as("a session alone does not make a repository").isFalse();
        Digest d = digest("uploaded");
        meta.completeUpload(id, "r", d, 77);
        assertThat(meta.upload(id)).isEmpty();
        assertThat(meta.linkedBlobSize("r", d)).hasValue(77);
        String other = UUID.randomUUID().toString();
        meta.createUpload(new UploadRecord(other, "r", DigestAlgorithm.SHA256, null, Instant.ofEpochMilli(5)));
        meta.deleteUpload(other);
        assertThat(meta.upload(other)).isEmpty();
    }

    @Test
    void concurrentPushesLeaveConsistentRows() throws Exception {
        Digest config = digest("cfg");
        meta.linkBlob("r", config, 10);
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<Digest>> results = new ArrayList<>();
            for (int i = 0; i < 40; i++) {
                Digest m = digest("m" + i);
                results.add(pool.submit(() -> {
                    put(manifest("r", m, null, null), List.of(blob(config, 10)), List.of("latest", "t" + m.hex()));
                    return m;
                }));
            }
            List<Digest> pushed = new ArrayList<>();
            for (Future<Digest> f : results) {
                pushed.add(f.get());
            }
            assertThat(meta.tags("r", null, 1000)).hasSize(41);
            assertThat(pushed).contains(meta.taggedManifest("r", "latest").orElseThrow().digest());
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void tagChecksSeeTheCurrentTagInsideTheTransaction() throws Exception {
        Digest config = digest("cfg");
        meta.linkBlob("r", config, 10);
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<Boolean>> results = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                Digest m = digest("racer" + i);
                results.add(pool.submit(() -> {
                    try {
                        meta.putManifest(manifest("r", m, null, null), List.of(blob(config, 10)), List.of("release"),
                                (tag, current) -> {
                                    if (current != null) {
                                        throw RegistryException.of(ErrorCode.DENIED, 403, "tags are immutable");
                                    }
                                });
                        return true;
                    } catch (RegistryException denied) {
                        return false;
                    }
                }));
            }
            int winners = 0;
            for (Future<Boolean> f : results) {
                winners += f.get() ? 1 : 0;
            }
            assertThat(winners).as("exactly one push creates the tag").isEqualTo(1);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aRefusedTagChangesNothing() {
        Digest m = pushImage("r", "img", List.of("v1"));
        Digest other = digest("other-img");
        meta.linkBlob("r", digest("img-config"), 10);
        assertThatThrownBy(() -> meta.putManifest(manifest("r", other, null, null), List.of(), List.of("new", "v1"),
                (tag, current) -> {
                    if (current != null) {
                        throw RegistryException.of(ErrorCode.DENIED, 403, "no moving " + tag);
                    }
                })).isInstanceOf(RegistryException.class);
        assertThat(meta.taggedManifest("r", "v1")).get().extracting(ManifestRecord::digest).isEqualTo(m);
        assertThat(meta.taggedManifest("r", "new")).as("all or nothing").isEmpty();
        assertThat(meta.manifest("r", other)).isEmpty();
    }
}
