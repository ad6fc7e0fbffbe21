package dev.berth.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.berth.config.SyncConfig;
import dev.berth.oci.MediaTypes;
import dev.berth.testing.FakeUpstream;
import dev.berth.testing.LogCapture;
import dev.berth.testing.RegistryClient.Response;
import dev.berth.testing.TestBerth;
import dev.berth.testing.TestImages;
import dev.berth.testing.TestImages.Image;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Periodic sync ({@code pollInterval}) from an upstream with a catalog (a second Berth behind a token-demanding
 * wrapper): the repositories the content rule takes and the tags its filters select arrive with everything they
 * reference, with no client asking; nothing else does. The mirror is not on demand, so whatever a client can pull
 * came from sync.
 */
class SyncerTest {
    private static final LogCapture LOGS = new LogCapture();

    @RegisterExtension
    static final TestBerth UPSTREAM = new TestBerth();
    private static FakeUpstream hub;

    @RegisterExtension
    static final TestBerth BERTH = new TestBerth(c -> c.withSync(new SyncConfig(true, List.of(
            periodic(hub().uri(), new SyncConfig.Content("team/**", "mirror.example", false, "^v?1\\.", "-rc", true)),
            // Docker Hub has no catalog: asking for periodic sync of it is logged and skipped, never attempted.
            periodic(URI.create("https://registry-1.docker.io"), new SyncConfig.Content("**", "docker.io", false,
                    null, null, false))))));

    private static FakeUpstream hub() {
        if (hub == null) {
            try {
                hub = new FakeUpstream(UPSTREAM.uri(), true);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
        return hub;
    }

    private static SyncConfig.Upstream periodic(URI url, SyncConfig.Content content) {
        return new SyncConfig.Upstream(List.of(url), false, Duration.ofSeconds(1), List.of(content), true, null, 0,
                Duration.ofMillis(50), Duration.ofMinutes(5), List.of(), List.of(), Map.of());
    }

    @AfterAll
    static void stopHub() throws Exception {
        hub.close();
        LOGS.close();
    }

    private static void eventually(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("waited 30 s for: " + what).isLessThan(deadline);
            Thread.sleep(100);
        }
    }

    private static int status(String path) {
        return BERTH.client().head(path).status();
    }

    @Test
    void selectedTagsArriveWithTheirContentAndOthersDoNot() throws Exception {
        String repo = "team/app" + System.nanoTime();
        Image v1 = TestImages.image(2, 2000);
        Image v12 = TestImages.image(1, 1000);
        for (String tag : List.of("v1.0.0", "1.2.3")) {
            UPSTREAM.client().push(repo, tag, tag.equals("v1.0.0") ? v1 : v12);
        }
        Image excluded = TestImages.image(1, 100);
        for (String tag : List.of("1.3.0-rc1", "latest", "2.0.0", "1.x")) {
            UPSTREAM.client().push(repo, tag, excluded);
        }
        String other = "other/app" + System.nanoTime();
        UPSTREAM.client().push(other, "1.0.0", excluded);

        String local = "mirror.example/" + repo;
        eventually("1.2.3 synced", () -> status("/v2/" + local + "/manifests/1.2.3") == 200);
        eventually("v1.0.0 synced", () -> status("/v2/" + local + "/manifests/v1.0.0") == 200);

        // With the upstream gone, everything selected is still whole: sync brought the blobs, not only manifests.
        hub.down(true);
        try {
            for (var entry : Map.of("v1.0.0", v1, "1.2.3", v12).entrySet()) {
                Response manifest = BERTH.client().get("/v2/" + local + "/manifests/" + entry.getKey());
                assertThat(manifest.body()).isEqualTo(entry.getValue().manifest());
                for (byte[] blob : entry.getValue().blobs()) {
                    assertThat(BERTH.client().get("/v2/" + local + "/blobs/" + TestImages.sha256(blob)).body())
                            .isEqualTo(blob);
                }
            }
            for (String tag : List.of("1.3.0-rc1", "latest", "2.0.0", "1.x")) {
                Response r = BERTH.client().get("/v2/" + local + "/manifests/" + tag);
                assertThat(r.status()).as(tag + " is not selected by the filters").isEqualTo(404);
                assertThat(r.errorCode()).isEqualTo("MANIFEST_UNKNOWN");
            }
            assertThat(BERTH.client().get("/v2/" + local + "/blobs/" + TestImages.sha256(excluded.blobs().get(0))).status())
                    .isEqualTo(404);
            assertThat(BERTH.client().get("/v2/" + local + "/tags/list").json().get("tags").toString())
                    .isEqualTo("[\"1.2.3\",\"v1.0.0\"]");
            assertThat(status("/v2/mirror.example/" + other + "/manifests/1.0.0"))
                    .as("outside the content rule's prefix").isEqualTo(404);
        } finally {
            hub.down(false);
        }
    }

    @Test
    void aMultiArchIndexArrivesWithEveryChildAndItsBlobs() throws Exception {
        String repo = "team/multi" + System.nanoTime();
        Image amd = TestImages.image(1, 500, MediaTypes.OCI_MANIFEST, "amd64", null, null, Map.of());
        Image arm = TestImages.image(1, 500, MediaTypes.OCI_MANIFEST, "arm64", null, null, Map.of());
        Image index = TestImages.index(MediaTypes.OCI_INDEX, List.of(amd, arm), List.of("amd64", "arm64"));
        UPSTREAM.client().push(repo, amd.digest().toString(), amd);
        UPSTREAM.client().push(repo, arm.digest().toString(), arm);
        UPSTREAM.client().pushManifest(repo, "1.0.0", MediaTypes.OCI_INDEX, index.manifest());

        String local = "mirror.example/" + repo;
        eventually("the index synced", () -> status("/v2/" + local + "/manifests/1.0.0") == 200);
        hub.down(true);
        try {
            assertThat(BERTH.client().get("/v2/" + local + "/manifests/1.0.0").body()).isEqualTo(index.manifest());
            for (Image child : List.of(amd, arm)) {
                assertThat(BERTH.client().get("/v2/" + local + "/manifests/" + child.digest()).body())
                        .isEqualTo(child.manifest());
                for (byte[] blob : child.blobs()) {
                    assertThat(BERTH.client().get("/v2/" + local + "/blobs/" + TestImages.sha256(blob)).body())
                            .isEqualTo(blob);
                }
            }
        } finally {
            hub.down(false);
        }
    }

    @Test
    void aTagMovedUpstreamIsMovedByTheNextPass() throws Exception {
        String repo = "team/moving" + System.nanoTime();
        Image first = TestImages.image(1, 100);
        UPSTREAM.client().push(repo, "1.0.0", first);
        String path = "/v2/mirror.example/" + repo + "/manifests/1.0.0";
        eventually("first synced", () -> first.digest().toString().equals(BERTH.client().head(path).header("Docker-Content-Digest")));
        Image second = TestImages.image(1, 100);
        UPSTREAM.client().push(repo, "1.0.0", second);
        eventually("moved", () -> second.digest().toString().equals(BERTH.client().head(path).header("Docker-Content-Digest")));
        assertThat(BERTH.client().get(path).body()).isEqualTo(second.manifest());
    }

    @Test
    void aMirrorThatIsNotOnDemandNeverAsksTheUpstreamForAClient() {
        String repo = "team/never" + System.nanoTime();
        UPSTREAM.client().push(repo, "9.9.9", TestImages.image(1, 100));
        hub.reset();
        Response r = BERTH.client().get("/v2/mirror.example/" + repo + "/manifests/9.9.9");
        assertThat(r.status()).isEqualTo(404);
        assertThat(hub.calls()).as("a client's miss is not fetched on demand")
                .noneMatch(c -> c.path().contains(repo) && !c.kind().equals("tags"));
    }

    @Test
    void pushesIntoASyncedNamespaceAreRefused() {
        Response r = BERTH.client().post("/v2/mirror.example/team/mine/blobs/uploads/", new byte[0]);
        assertThat(r.status()).isEqualTo(405);
        assertThat(r.errorCode()).isEqualTo("UNSUPPORTED");
    }

    @Test
    void dockerHubIsNotWalkedAndTheLogSaysWhy() {
        assertThat(LOGS.all()).anyMatch(m -> m.contains("periodic sync of registry-1.docker.io skipped"));
        assertThat(LOGS.all()).anyMatch(m -> m.contains("mirroring") && m.contains("every 1s"));
    }
}
