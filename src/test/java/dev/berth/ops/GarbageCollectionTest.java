package dev.berth.ops;

import static org.assertj.core.api.Assertions.assertThat;

import dev.berth.config.BerthConfig;
import dev.berth.oci.Digest;
import dev.berth.oci.MediaTypes;
import dev.berth.ops.GarbageCollector.Report;
import dev.berth.testing.RegistryClient;
import dev.berth.testing.RegistryClient.Response;
import dev.berth.testing.Scrape;
import dev.berth.testing.TestBerth;
import dev.berth.testing.TestImages;
import dev.berth.testing.TestImages.Image;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Garbage collection against a real Berth: what nothing needs goes once older than gcDelay, what anything needs
 * stays, a dry run says exactly what a real run does, and pushes going on meanwhile are never broken.
 */
class GarbageCollectionTest {
    private static final Duration DELAY = Duration.ofMillis(400);

    /** Collection only when a test asks for it. */
    @RegisterExtension
    static final TestBerth BERTH = new TestBerth(c -> c.withStorage(c.storage().withGc(
            new BerthConfig.Gc(true, DELAY, Duration.ofHours(1), false))));

    /** Collection every 20 ms, for the tests of pushes racing it. */
    @RegisterExtension
    static final TestBerth BUSY = new TestBerth(c -> c.withStorage(c.storage().withGc(
            new BerthConfig.Gc(true, Duration.ofMillis(1500), Duration.ofMillis(20), false))));

    private static RegistryClient client() {
        return BERTH.client();
    }

    private static void pastTheDelay() throws InterruptedException {
        Thread.sleep(DELAY.toMillis() + 100);
    }

    /** A dry run, then the real run, which must do exactly what the dry run said. */
    private static Report collect() {
        Report dry = BERTH.berth().collectGarbage(true);
        Report real = BERTH.berth().collectGarbage(false);
        assertThat(List.of(real.tags(), real.manifests(), real.links(), real.blobs(), real.uploads()))
                .as("a dry run reports what a real run deletes")
                .isEqualTo(List.of(dry.tags(), dry.manifests(), dry.links(), dry.blobs(), dry.uploads()));
        assertThat(real.blobBytes()).isEqualTo(dry.blobBytes());
        return real;
    }

    private static void assertWhole(RegistryClient client, String repo, Image image) {
        assertThat(client.get("/v2/" + repo + "/manifests/" + image.digest()).body()).isEqualTo(image.manifest());
        for (byte[] blob : image.blobs()) {
            Response r = client.get("/v2/" + repo + "/blobs/" + TestImages.sha256(blob));
            assertThat(r.status()).as("blob of %s in %s", image.digest(), repo).isEqualTo(200);
            assertThat(r.body()).isEqualTo(blob);
        }
    }

    private static void assertGone(String repo, Image image) {
        assertThat(client().get("/v2/" + repo + "/manifests/" + image.digest()).status()).isEqualTo(404);
        for (byte[] blob : image.blobs()) {
            assertThat(client().head("/v2/" + repo + "/blobs/" + TestImages.sha256(blob)).status()).isEqualTo(404);
        }
    }

    private static Path blobFile(Path root, Digest digest) {
        return root.resolve("blobs/sha256/" + digest.hex().substring(0, 2) + "/" + digest.hex());
    }

    @Test
    void anImageUntaggedByAMovedTagGoesOnceOlderThanTheDelay() throws Exception {
        String repo = TestBerth.newRepository("gc");
        Image old = TestImages.image(2, 5_000);
        Image current = TestImages.image(2, 5_000);
        client().push(repo, "v1", old);
        client().push(repo, "v1", current);

        Report early = collect();
        assertWhole(client(), repo, old); // untagged, but younger than gcDelay
        pastTheDelay();
        Report report = collect();
        assertThat(report.manifests() - early.manifests()).isGreaterThanOrEqualTo(1);
        assertGone(repo, old);
        for (byte[] blob : old.blobs()) {
            assertThat(blobFile(BERTH.root(), TestImages.sha256(blob))).as("the bytes are deleted too").doesNotExist();
        }
        assertWhole(client(), repo, current);
        assertThat(client().get("/v2/" + repo + "/manifests/v1").body()).isEqualTo(current.manifest());
    }

    @Test
    void anUntaggedManifestPushedAgainIsAsYoungAsThatPush() throws Exception {
        String repo = TestBerth.newRepository("gc-repush");
        Image child = TestImages.image(1, 3_000);
        client().push(repo, "a", child);
        pastTheDelay();
        assertThat(client().delete("/v2/" + repo + "/manifests/a").status()).isEqualTo(202);
        client().push(repo, child.digest().toString(), child); // a child again, its index about to follow
        collect();
        assertWhole(client(), repo, child);
        Image index = TestImages.index(MediaTypes.OCI_INDEX, List.of(child), List.of("amd64"));
        assertThat(client().pushManifest(repo, "multi", MediaTypes.OCI_INDEX, index.manifest())).isEqualTo(index.digest());
    }

    @Test
    void aChunkArrivingSlowlyNeitherHoldsUpCollectionNorLosesItsSession() throws Exception {
        String repo = TestBerth.newRepository("gc-slow");
        String location = client().post("/v2/" + repo + "/blobs/uploads/", new byte[0]).header("Location");
        java.net.URI uri = BERTH.uri();
        try (java.net.Socket socket = new java.net.Socket(uri.getHost(), uri.getPort())) {
            var out = socket.getOutputStream();
            // A raw socket, since Java's client gathers a streamed body before sending anything.
            out.write(("PATCH " + java.net.URI.create(location).getRawPath() + " HTTP/1.1\r\nHost: x\r\n"
                    + "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "64\r\n" + "a".repeat(100) + "\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            out.flush();
            Thread.sleep(300); // the PATCH is in, holding its session and waiting for more
            pastTheDelay();
            var collecting = Executors.newVirtualThreadPerTaskExecutor().submit(() -> BERTH.berth().collectGarbage(false));
            Report report = collecting.get(30, java.util.concurrent.TimeUnit.SECONDS); // never waits for the chunk
            assertThat(report).isNotNull();
            out.write(("64\r\n" + "b".repeat(100) + "\r\n0\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            out.flush();
            String status = new java.io.BufferedReader(new java.io.InputStreamReader(socket.getInputStream(),
                    java.nio.charset.StandardCharsets.US_ASCII)).readLine();
            assertThat(status).isEqualTo("HTTP/1.1 202 Accepted");
        }
        assertThat(client().get(location).header("Range")).as("the session lives on, with both parts").isEqualTo("0-199");
    }

    @Test
    void aTaggedIndexKeepsItsChildrenAndTakesThemAlongWhenItGoes() throws Exception {
        String repo = TestBerth.newRepository("gc-index");
        Image amd = TestImages.image(1, 3_000, MediaTypes.OCI_MANIFEST, "amd64", null, null, Map.of());
        Image arm = TestImages.image(1, 3_000, MediaTypes.OCI_MANIFEST, "arm64", null, null, Map.of());
        Image index = TestImages.index(MediaTypes.OCI_INDEX, List.of(amd, arm), List.of("amd64", "arm64"));
        client().push(repo, amd.digest().toString(), amd);
        client().push(repo, arm.digest().toString(), arm);
        client().pushManifest(repo, "multi", MediaTypes.OCI_INDEX, index.manifest());
        pastTheDelay();
        collect();
        assertWhole(client(), repo, amd);
        assertWhole(client(), repo, arm);

        assertThat(client().delete("/v2/" + repo + "/manifests/multi").status()).isEqualTo(202);
        collect();
        assertGone(repo, amd);
        assertGone(repo, arm);
        assertThat(client().get("/v2/" + repo + "/manifests/" + index.digest()).status()).isEqualTo(404);
        assertThat(client().get("/v2/_catalog").text()).as("an emptied repository leaves the catalog")
                .doesNotContain("\"" + repo + "\"");
    }

    @Test
    void aBlobAnotherRepositoryStillUsesStays() throws Exception {
        String first = TestBerth.newRepository("gc-shared");
        String second = TestBerth.newRepository("gc-shared");
        Image image = TestImages.image(2, 4_000);
        client().push(first, "v1", image);
        client().push(second, "v1", image);
        assertThat(client().delete("/v2/" + first + "/manifests/" + image.digest()).status()).isEqualTo(202);
        pastTheDelay();
        collect();
        assertGone(first, image);
        assertWhole(client(), second, image);
        for (byte[] blob : image.blobs()) {
            assertThat(blobFile(BERTH.root(), TestImages.sha256(blob))).exists();
        }
    }

    @Test
    void aReferrerStaysWithItsSubjectAndAfterIt() throws Exception {
        String repo = TestBerth.newRepository("gc-referrers");
        Image subject = TestImages.image(1, 2_000);
        client().push(repo, "v1", subject);
        Image signature = TestImages.image(1, 100, MediaTypes.OCI_MANIFEST, "amd64", "application/vnd.example.sig",
                subject.descriptor(), Map.of());
        client().push(repo, signature.digest().toString(), signature);
        pastTheDelay();
        collect();
        assertWhole(client(), repo, signature);
        assertThat(client().get("/v2/" + repo + "/referrers/" + subject.digest()).text())
                .contains(signature.digest().toString());
    }

    @Test
    void abandonedUploadsAreDiscardedAndLiveOnesKept() throws Exception {
        String repo = TestBerth.newRepository("gc-uploads");
        String abandoned = client().post("/v2/" + repo + "/blobs/uploads/", new byte[0]).header("Location");
        assertThat(client().patch(abandoned, new byte[1000], "Content-Type", "application/octet-stream").status())
                .isEqualTo(202);
        pastTheDelay();
        String fresh = client().post("/v2/" + repo + "/blobs/uploads/", new byte[0]).header("Location");
        // An old upload file nobody owns (a crash between creating it and recording the session).
        Path stray = BERTH.root().resolve("uploads/" + java.util.UUID.randomUUID());
        Files.write(stray, new byte[10]);
        Files.setLastModifiedTime(stray, FileTime.from(Instant.now().minusSeconds(3600)));

        Report report = collect();
        assertThat(report.uploads()).isGreaterThanOrEqualTo(2);
        assertThat(client().get(abandoned).status()).isEqualTo(404);
        assertThat(client().get(fresh).status()).as("a session younger than the delay").isEqualTo(204);
        assertThat(stray).doesNotExist();
    }

    @Test
    void bytesThatNoRowRecordsGoAndRecordedOnesNever() throws Exception {
        byte[] content = TestImages.randomBytes(3_000);
        Digest digest = TestImages.sha256(content);
        Path orphan = blobFile(BERTH.root(), digest);
        Files.createDirectories(orphan.getParent());
        Files.write(orphan, content);
        Files.setLastModifiedTime(orphan, FileTime.from(Instant.now().minusSeconds(3600)));
        String repo = TestBerth.newRepository("gc-orphans");
        Image kept = TestImages.image(1, 3_000);
        client().push(repo, "v1", kept);
        for (byte[] blob : kept.blobs()) {
            Files.setLastModifiedTime(blobFile(BERTH.root(), TestImages.sha256(blob)),
                    FileTime.from(Instant.now().minusSeconds(3600)));
        }
        collect();
        assertThat(orphan).doesNotExist();
        assertWhole(client(), repo, kept);
    }

    @Test
    void runsAreCountedUnderZotsMetricNames() throws Exception {
        String repo = TestBerth.newRepository("gc-metrics");
        Image old = TestImages.image(1, 1_000);
        client().push(repo, "v1", old);
        client().push(repo, "v1", TestImages.image(1, 1_000));
        pastTheDelay();
        Scrape before = Scrape.of(client());
        collect();
        Scrape after = Scrape.of(client());
        assertThat(after.sum("zot_gc_runs_total", "error=\"false\"") - before.sum("zot_gc_runs_total", "error=\"false\""))
                .as("the dry run and the real run").isEqualTo(2);
        assertThat(after.sum("zot_gc_deleted_total", "type=\"manifest\"")
                - before.sum("zot_gc_deleted_total", "type=\"manifest\"")).isGreaterThanOrEqualTo(1);
        assertThat(after.sum("zot_gc_deleted_total", "type=\"blob\"")
                - before.sum("zot_gc_deleted_total", "type=\"blob\"")).isGreaterThanOrEqualTo(2);
        assertThat(after.has("zot_gc_duration_seconds_count")).isTrue();
    }

    @Test
    void pushesWhileCollectionRunsEveryFewMillisecondsAreNeverBroken() throws Exception {
        RegistryClient busy = BUSY.client();
        byte[] shared = TestImages.randomBytes(20_000);
        List<Callable<List<Image>>> pushers = new ArrayList<>();
        for (int p = 0; p < 6; p++) {
            int pusher = p;
            pushers.add(() -> {
                String repo = "gc-race/p" + pusher;
                List<Image> pushed = new ArrayList<>();
                for (int i = 0; i < 6; i++) {
                    Image image = TestImages.image(1, 8_000);
                    for (byte[] blob : image.blobs()) {
                        busy.pushBlob(repo, blob);
                    }
                    busy.pushBlob(repo, shared); // the same bytes in every push: collection and pushes meet on it
                    Thread.sleep(150); // the manifest comes later, as with a real client; well inside gcDelay
                    busy.pushManifest(repo, "t" + i, image.mediaType(), image.manifest());
                    // and the tag moves on, leaving the previous image for collection
                    busy.pushManifest(repo, "latest", image.mediaType(), image.manifest());
                    pushed.add(image);
                }
                return pushed;
            });
        }
        try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<List<Image>>> results = pool.invokeAll(pushers);
            for (int p = 0; p < results.size(); p++) {
                for (Image image : results.get(p).get()) {
                    assertWhole(busy, "gc-race/p" + p, image);
                }
            }
        }
    }

    @Test
    void bytesCollectedWhileTheSameBytesArePushedAgainAreNeverLost() throws Exception {
        // A blob whose only manifest is gone is collected at the moment a client pushes the same bytes again: the
        // push must end with the bytes stored, however the two interleave.
        for (int round = 0; round < 15; round++) {
            String repo = TestBerth.newRepository("gc-again");
            byte[] layer = TestImages.randomBytes(50_000);
            Digest digest = client().pushBlob(repo, layer);
            assertThat(client().delete("/v2/" + repo + "/blobs/" + digest).status()).isEqualTo(202);
            pastTheDelay();
            try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
                Future<Report> gc = pool.submit(() -> BERTH.berth().collectGarbage(false));
                Future<Digest> push = pool.submit(() -> client().pushBlob(repo, layer));
                gc.get();
                push.get();
            }
            Response r = client().get("/v2/" + repo + "/blobs/" + digest);
            assertThat(r.status()).as("round %d", round).isEqualTo(200);
            assertThat(r.body()).isEqualTo(layer);
        }
    }
}
