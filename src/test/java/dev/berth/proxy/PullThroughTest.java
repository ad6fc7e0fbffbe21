package dev.berth.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.berth.config.SyncConfig;
import dev.berth.oci.Digest;
import dev.berth.oci.MediaTypes;
import dev.berth.testing.FakeUpstream;
import dev.berth.testing.FakeUpstream.Fault;
import dev.berth.testing.RegistryClient;
import dev.berth.testing.RegistryClient.Response;
import dev.berth.testing.TestBerth;
import dev.berth.testing.TestImages;
import dev.berth.testing.TestImages.Image;
import java.net.URI;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Pull-through against a real upstream (a second Berth) behind a wrapper that demands tokens as Docker Hub does,
 * counts requests and injects faults.
 */
class PullThroughTest {
    @RegisterExtension
    static final TestBerth UPSTREAM = new TestBerth();
    private static FakeUpstream hub;

    @RegisterExtension
    static final TestBerth BERTH = new TestBerth(c -> c.withSync(new SyncConfig(true, List.of(
            upstream(hub().uri(), "docker.io", List.of("library/**"), Duration.ofMinutes(5))))));

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

    static SyncConfig.Upstream upstream(URI url, String destination, List<String> unprefixed, Duration freshness) {
        return new SyncConfig.Upstream(List.of(url), true, null,
                List.of(new SyncConfig.Content("**", destination, false, null, null, false)), true, null, 1,
                Duration.ofMillis(50), freshness, unprefixed, List.of(), Map.of());
    }

    @AfterAll
    static void stopHub() throws Exception {
        hub.close();
    }

    @BeforeEach
    void resetHub() {
        hub.reset();
    }

    private RegistryClient client() {
        return BERTH.client();
    }

    /** Pushes an image to the upstream as {@code library/<name>:<tag>}. */
    private static Image upstreamImage(String name, String tag, int layerSize) {
        Image image = TestImages.image(2, layerSize);
        UPSTREAM.client().push("library/" + name, tag, image);
        return image;
    }

    private static String unique(String prefix) {
        return prefix + System.nanoTime();
    }

    @Test
    void aColdTagIsFetchedOnceAndServedFromTheCacheWithinTheWindow() {
        String name = unique("alpine");
        Image image = upstreamImage(name, "3.20", 1000);
        Response first = client().get("/v2/docker.io/library/" + name + "/manifests/3.20");
        assertThat(first.status()).as(first.text()).isEqualTo(200);
        assertThat(first.body()).isEqualTo(image.manifest());
        assertThat(first.header("Docker-Content-Digest")).isEqualTo(image.digest().toString());
        assertThat(hub.count("GET", "manifest")).isEqualTo(1);
        assertThat(hub.count("GET", "token")).as("the token flow was followed").isGreaterThanOrEqualTo(1);
        for (byte[] layer : image.blobs()) {
            Response blob = client().get("/v2/docker.io/library/" + name + "/blobs/" + TestImages.sha256(layer));
            assertThat(blob.status()).isEqualTo(200);
            assertThat(blob.body()).isEqualTo(layer);
        }
        assertThat(hub.count("GET", "blob")).as("one request per cold blob").isEqualTo(image.blobs().size());
        assertThat(hub.count("HEAD", "blob")).as("a GET needs no HEAD first").isZero();
        int before = hub.total();
        assertThat(client().get("/v2/docker.io/library/" + name + "/manifests/3.20").body()).isEqualTo(image.manifest());
        for (byte[] layer : image.blobs()) {
            assertThat(client().get("/v2/docker.io/library/" + name + "/blobs/" + TestImages.sha256(layer)).body()).isEqualTo(layer);
        }
        assertThat(hub.total()).as("a second pull within the window asks the upstream nothing").isEqualTo(before);
    }

    @Test
    void aMultiArchIndexIsStoredAsItIsAndItsChildrenComeWhenAskedFor() {
        String name = unique("multi");
        Image amd = TestImages.image(1, 500, MediaTypes.OCI_MANIFEST, "amd64", null, null, Map.of());
        Image arm = TestImages.image(1, 500, MediaTypes.OCI_MANIFEST, "arm64", null, null, Map.of());
        Image index = TestImages.index(MediaTypes.OCI_INDEX, List.of(amd, arm), List.of("amd64", "arm64"));
        UPSTREAM.client().push("library/" + name, amd.digest().toString(), amd);
        UPSTREAM.client().push("library/" + name, arm.digest().toString(), arm);
        UPSTREAM.client().pushManifest("library/" + name, "latest", MediaTypes.OCI_INDEX, index.manifest());

        Response got = client().get("/v2/docker.io/library/" + name + "/manifests/latest");
        assertThat(got.header("Content-Type")).isEqualTo(MediaTypes.OCI_INDEX);
        assertThat(got.body()).isEqualTo(index.manifest());
        assertThat(hub.count("GET", "blob")).as("nothing fetched before it is asked for").isZero();
        assertThat(client().get("/v2/docker.io/library/" + name + "/manifests/" + amd.digest()).body()).isEqualTo(amd.manifest());
        assertThat(client().get("/v2/docker.io/library/" + name + "/blobs/" + TestImages.sha256(amd.blobs().get(0))).body())
                .isEqualTo(amd.blobs().get(0));

        hub.reset();
        client().get("/v2/docker.io/library/" + name + "/manifests/latest");
        client().get("/v2/docker.io/library/" + name + "/manifests/" + amd.digest());
        client().get("/v2/docker.io/library/" + name + "/blobs/" + TestImages.sha256(amd.blobs().get(0)));
        assertThat(hub.total()).as("a second pull of a multi-arch tag within the window").isZero();
    }

    @Test
    void twentyConcurrentColdPullsOfOneBlobAreOneUpstreamFetch() throws Exception {
        String name = unique("big");
        Image image = upstreamImage(name, "v1", 3 * 1024 * 1024);
        client().get("/v2/docker.io/library/" + name + "/manifests/v1");
        byte[] layer = image.blobs().get(0);
        String path = "/v2/docker.io/library/" + name + "/blobs/" + TestImages.sha256(layer);
        hub.reset();
        hub.faults(c -> c.kind().equals("blob") ? Fault.SLOW_BODY : Fault.NONE);
        List<Callable<byte[]>> pulls = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            pulls.add(() -> client().get(path).body());
        }
        try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (Future<byte[]> f : pool.invokeAll(pulls)) {
                assertThat(f.get()).isEqualTo(layer);
            }
        }
        assertThat(hub.count("GET", "blob")).isEqualTo(1);
    }

    @Test
    void theTagIsRevalidatedWithOneHeadAfterTheWindow() throws Exception {
        try (FakeUpstream quick = new FakeUpstream(UPSTREAM.uri(), false)) {
            TestBerth mirror = new TestBerth(c -> c.withSync(new SyncConfig(true, List.of(
                    upstream(quick.uri(), "quick", List.of(), Duration.ofMillis(300))))));
            mirror.beforeAll(null);
            try {
                String repo = unique("app");
                Image one = TestImages.image(1, 100);
                UPSTREAM.client().push(repo, "v1", one);
                assertThat(mirror.client().get("/v2/quick/" + repo + "/manifests/v1").body()).isEqualTo(one.manifest());
                Thread.sleep(400);
                quick.reset();
                assertThat(mirror.client().get("/v2/quick/" + repo + "/manifests/v1").body()).isEqualTo(one.manifest());
                assertThat(quick.count("HEAD", "manifest")).isEqualTo(1);
                assertThat(quick.count("GET", "manifest")).as("same digest: nothing fetched").isZero();

                Image two = TestImages.image(1, 100);
                UPSTREAM.client().push(repo, "v1", two);
                Thread.sleep(400);
                quick.reset();
                assertThat(mirror.client().get("/v2/quick/" + repo + "/manifests/v1").body()).isEqualTo(two.manifest());
                assertThat(quick.count("HEAD", "manifest")).isEqualTo(1);
                assertThat(quick.count("GET", "manifest")).isEqualTo(1);
            } finally {
                mirror.afterAll(null);
            }
        }
    }

    @Test
    void theCachedCopyIsServedWhenTheUpstreamFails() throws Exception {
        try (FakeUpstream flaky = new FakeUpstream(UPSTREAM.uri(), false)) {
            TestBerth mirror = new TestBerth(c -> c.withSync(new SyncConfig(true, List.of(
                    upstream(flaky.uri(), "flaky", List.of(), Duration.ZERO)))));
            mirror.beforeAll(null);
            try {
                String repo = unique("app");
                Image image = TestImages.image(1, 100);
                UPSTREAM.client().push(repo, "v1", image);
                assertThat(mirror.client().get("/v2/flaky/" + repo + "/manifests/v1").status()).isEqualTo(200);
                for (Fault fault : List.of(Fault.STATUS_429, Fault.STATUS_500)) {
                    flaky.faults(c -> fault);
                    Response r = mirror.client().get("/v2/flaky/" + repo + "/manifests/v1");
                    assertThat(r.status()).as(fault.toString()).isEqualTo(200);
                    assertThat(r.body()).isEqualTo(image.manifest());
                }
                flaky.faults(c -> Fault.NONE);
                flaky.down(true);
                assertThat(mirror.client().get("/v2/flaky/" + repo + "/manifests/v1").body()).isEqualTo(image.manifest());

                // Nothing cached: the client hears what the upstream said.
                assertThat(mirror.client().get("/v2/flaky/" + repo + "/manifests/never").status()).isEqualTo(502);
                flaky.down(false);
                flaky.faults(c -> Fault.STATUS_429);
                Response limited = mirror.client().get("/v2/flaky/" + repo + "/manifests/never");
                assertThat(limited.status()).isEqualTo(429);
                assertThat(limited.errorCode()).isEqualTo("TOOMANYREQUESTS");
                flaky.faults(c -> Fault.NONE);
                Response missing = mirror.client().get("/v2/flaky/" + repo + "/manifests/never");
                assertThat(missing.status()).isEqualTo(404);
                assertThat(missing.errorCode()).isEqualTo("MANIFEST_UNKNOWN");
            } finally {
                mirror.afterAll(null);
            }
        }
    }

    private double metric(String metric, String... labels) {
        return dev.berth.testing.Scrape.of(client()).sum(metric, labels);
    }

    @Test
    void metricsCountUpstreamRequestsHitsMissesAndBytes() {
        String name = unique("counted");
        Image image = upstreamImage(name, "v1", 100_000);
        byte[] layer = image.blobs().get(0);
        String upstream = "upstream=\"" + hub.uri().getHost() + ":" + hub.uri().getPort() + "\"";
        double requests = metric("berth_upstream_requests_total", upstream, "method=\"GET\"", "status=\"200\"");
        double misses = metric("berth_cache_requests_total", "kind=\"blob\"", "result=\"miss\"");
        double hits = metric("berth_cache_requests_total", "kind=\"blob\"", "result=\"hit\"");
        double fetched = metric("berth_upstream_bytes_total", upstream);
        double served = metric("berth_mirror_served_bytes_total", upstream);

        client().get("/v2/docker.io/library/" + name + "/manifests/v1");
        String blob = "/v2/docker.io/library/" + name + "/blobs/" + TestImages.sha256(layer);
        assertThat(client().get(blob).body()).isEqualTo(layer);
        assertThat(client().get(blob).body()).isEqualTo(layer);

        assertThat(metric("berth_upstream_requests_total", upstream, "method=\"GET\"", "status=\"200\"") - requests)
                .as("manifest, token(s) and one blob").isGreaterThanOrEqualTo(2);
        assertThat(metric("berth_cache_requests_total", "kind=\"blob\"", "result=\"miss\"") - misses).isEqualTo(1);
        assertThat(metric("berth_cache_requests_total", "kind=\"blob\"", "result=\"hit\"") - hits).isEqualTo(1);
        assertThat(metric("berth_upstream_bytes_total", upstream) - fetched).isEqualTo(layer.length);
        assertThat(metric("berth_mirror_served_bytes_total", upstream) - served).isEqualTo(2.0 * layer.length);
    }

    @Test
    void aDeletedCachedImageIsFetchedAgainOnTheNextPull() {
        String name = unique("evicted");
        Image image = upstreamImage(name, "v1", 1000);
        String repo = "/v2/docker.io/library/" + name;
        byte[] layer = image.blobs().get(0);
        assertThat(client().get(repo + "/manifests/v1").status()).isEqualTo(200);
        assertThat(client().get(repo + "/blobs/" + TestImages.sha256(layer)).status()).isEqualTo(200);

        assertThat(client().delete(repo + "/manifests/" + image.digest()).status()).isEqualTo(202);
        assertThat(client().delete(repo + "/blobs/" + TestImages.sha256(layer)).status()).isEqualTo(202);
        hub.reset();
        assertThat(client().get(repo + "/manifests/v1").body()).isEqualTo(image.manifest());
        assertThat(client().get(repo + "/blobs/" + TestImages.sha256(layer)).body()).isEqualTo(layer);
        assertThat(hub.count("GET", "manifest")).isEqualTo(1);
        // The bytes may still be on disk (until garbage collection): then the upstream only confirms the blob.
        assertThat(hub.count("GET", "blob") + hub.count("HEAD", "blob")).as(hub.calls().toString()).isEqualTo(1);
    }

    @Test
    void credentialsGoOnlyToTheRegistryTheyAreFiledFor() throws Exception {
        try (FakeUpstream primary = new FakeUpstream(UPSTREAM.uri(), true);
             FakeUpstream fallback = new FakeUpstream(UPSTREAM.uri(), true)) {
            SyncConfig.Upstream both = new SyncConfig.Upstream(List.of(primary.uri(), fallback.uri()), true, null,
                    List.of(new SyncConfig.Content("**", "two", false, null, null, false)), true, null, 0,
                    Duration.ofMillis(10), Duration.ofMinutes(5), List.of(), List.of(),
                    Map.of(SyncConfig.authority(primary.uri()), new SyncConfig.Login("mirror", "s3cret")));
            TestBerth mirror = new TestBerth(c -> c.withSync(new SyncConfig(true, List.of(both))));
            mirror.beforeAll(null);
            try {
                String repo = unique("app");
                UPSTREAM.client().push(repo, "v1", TestImages.image(1, 100));
                assertThat(mirror.client().get("/v2/two/" + repo + "/manifests/v1").status()).isEqualTo(200);
                String basic = "Basic " + java.util.Base64.getEncoder().encodeToString("mirror:s3cret".getBytes());
                assertThat(primary.calls()).filteredOn(c -> c.kind().equals("token")).isNotEmpty()
                        .allMatch(c -> basic.equals(c.authorization()));

                // The primary fails; the fail-over registry is asked without the primary's password or token.
                primary.down(true);
                String other = unique("app");
                UPSTREAM.client().push(other, "v1", TestImages.image(1, 100));
                assertThat(mirror.client().get("/v2/two/" + other + "/manifests/v1").status()).isEqualTo(200);
                assertThat(fallback.calls()).filteredOn(c -> c.kind().equals("token")).isNotEmpty();
                assertThat(fallback.calls()).allMatch(c -> c.authorization() == null
                        || c.authorization().startsWith("Bearer ") && fallback.issued(c.authorization().substring(7)));
            } finally {
                mirror.afterAll(null);
            }
        }
    }

    @Test
    void badBlobBytesAreNeverServedWholeNorKept() {
        String name = unique("corrupt");
        Image image = upstreamImage(name, "v1", 400_000);
        client().get("/v2/docker.io/library/" + name + "/manifests/v1");
        byte[] layer = image.blobs().get(0);
        Digest digest = TestImages.sha256(layer);
        String path = "/v2/docker.io/library/" + name + "/blobs/" + digest;
        for (Fault fault : List.of(Fault.WRONG_BYTES, Fault.TRUNCATE, Fault.DROP_MID_BODY)) {
            hub.faults(c -> c.kind().equals("blob") && c.method().equals("GET") ? fault : Fault.NONE);
            try {
                Response r = client().get(path);
                assertThat(r.body()).as(fault + ": never a whole body with wrong bytes").isNotEqualTo(
                        tamper(layer)).hasSizeLessThan(layer.length);
            } catch (java.io.UncheckedIOException broken) {
                // the connection was failed: what a client must see
            }
            assertThat(Files.exists(BERTH.root().resolve("blobs/sha256/" + digest.hex().substring(0, 2) + "/" + digest.hex())))
                    .as(fault + ": nothing kept").isFalse();
        }
        hub.faults(c -> Fault.NONE);
        assertThat(client().get(path).body()).as("a good fetch afterwards").isEqualTo(layer);
    }

    private static byte[] tamper(byte[] layer) {
        byte[] copy = layer.clone();
        copy[copy.length / 2] ^= 0x55;
        return copy;
    }

    @Test
    void headOfAnUncachedBlobAsksTheUpstreamAndStoresNothing() {
        String name = unique("headblob");
        Image image = upstreamImage(name, "v1", 1000);
        byte[] layer = image.blobs().get(0);
        Response head = client().head("/v2/docker.io/library/" + name + "/blobs/" + TestImages.sha256(layer));
        assertThat(head.status()).isEqualTo(200);
        assertThat(head.header("Content-Length")).isEqualTo(Integer.toString(layer.length));
        assertThat(head.header("Docker-Content-Digest")).isEqualTo(TestImages.sha256(layer).toString());
        assertThat(hub.count("GET", "blob")).isZero();
    }

    @Test
    void aHeadOfANewTagStoresTheManifestSoItOutlivesTheUpstream() {
        String name = unique("headtag");
        Image image = upstreamImage(name, "v1", 100);
        Response head = client().head("/v2/docker.io/library/" + name + "/manifests/v1");
        assertThat(head.status()).isEqualTo(200);
        assertThat(head.header("Docker-Content-Digest")).isEqualTo(image.digest().toString());
        hub.down(true);
        assertThat(client().get("/v2/docker.io/library/" + name + "/manifests/" + image.digest()).body()).isEqualTo(image.manifest());
    }

    @Test
    void dockerHubOfficialImagesAreOneLocalRepository() {
        String name = unique("official");
        Image image = upstreamImage(name, "v1", 100);
        assertThat(client().get("/v2/docker.io/" + name + "/manifests/v1").body()).isEqualTo(image.manifest());
        hub.reset();
        assertThat(client().get("/v2/docker.io/library/" + name + "/manifests/v1").body()).isEqualTo(image.manifest());
        assertThat(hub.total()).isZero();
        assertThat(client().get("/v2/_catalog").text()).contains("docker.io/library/" + name).doesNotContain("\"docker.io/" + name);
    }

    @Test
    void containerdNamespacesAndUnprefixedNamesReachTheMirror() {
        String name = unique("ns");
        Image image = upstreamImage(name, "v1", 100);
        Response viaNs = client().get("/v2/library/" + name + "/manifests/v1?ns=docker.io");
        assertThat(viaNs.status()).isEqualTo(200);
        assertThat(viaNs.header("OCI-Namespace")).isEqualTo("docker.io");
        assertThat(viaNs.body()).isEqualTo(image.manifest());
        assertThat(client().get("/v2/" + name + "/manifests/v1?ns=registry-1.docker.io").body()).isEqualTo(image.manifest());
        assertThat(client().get("/v2/library/" + name + "/manifests/v1").body()).as("registry-mirrors style")
                .isEqualTo(image.manifest());
        hub.reset();
        Response unknown = client().get("/v2/library/" + name + "/manifests/v1?ns=evil.example.com");
        assertThat(unknown.status()).isEqualTo(404);
        assertThat(unknown.errorCode()).isEqualTo("NAME_UNKNOWN");
        Response privateRepo = client().get("/v2/blumeops/app/manifests/v1");
        assertThat(privateRepo.status()).isEqualTo(404);
        assertThat(hub.total()).as("an unknown ns and a private name are never dialled").isZero();
    }

    @Test
    void mirroredRepositoriesTakeNoPushesAndListWhatIsCached() {
        String name = unique("ro");
        upstreamImage(name, "v1", 100);
        upstreamImage(name, "v2", 100);
        client().get("/v2/docker.io/library/" + name + "/manifests/v1");
        assertThat(client().post("/v2/docker.io/library/" + name + "/blobs/uploads/", new byte[0]).status()).isEqualTo(405);
        Image local = TestImages.image(1, 10);
        assertThat(client().put("/v2/docker.io/library/" + name + "/manifests/mine", local.manifest(),
                "Content-Type", MediaTypes.OCI_MANIFEST).status()).isEqualTo(405);
        assertThat(client().get("/v2/docker.io/library/" + name + "/tags/list").json().path("tags").toString())
                .as("tags are what is cached").isEqualTo("[\"v1\"]");
        assertThatThrownBy(() -> Digest.parse("x")).isNotNull();
    }
}
