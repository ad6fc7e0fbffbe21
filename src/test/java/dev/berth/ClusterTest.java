package dev.berth;

import static org.assertj.core.api.Assertions.assertThat;

import dev.berth.oci.Digest;
import dev.berth.oci.DigestAlgorithm;
import dev.berth.oci.MediaTypes;
import dev.berth.testing.BerthProcess;
import dev.berth.testing.RegistryClient;
import dev.berth.testing.RegistryClient.Response;
import dev.berth.testing.TestImages;
import dev.berth.testing.TestImages.Image;
import dev.berth.testing.TestPostgres;
import dev.berth.testing.TestS3;
import dev.berth.testing.TestUsers;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three Berth processes on loopback sharing one PostgreSQL database and one S3 bucket, configured as an operator
 * would (zot's storageDriver keys, Berth's storage.database), with htpasswd users: "admin" may do everything, "ci"
 * may read and create tags but never move one.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterTest {
    private static final String ADMIN_PASSWORD = "admin-pw";
    private static final String CI_PASSWORD = "ci-pw";

    @TempDir
    static Path dir;
    private static final List<BerthProcess> nodes = new ArrayList<>();

    @BeforeAll
    static void startThreeNodes() throws Exception {
        String url = TestPostgres.newDatabase();
        String bucket = TestS3.newBucket();
        Path htpasswd = TestUsers.htpasswd(dir.resolve("htpasswd"), Map.of("admin", ADMIN_PASSWORD, "ci", CI_PASSWORD));
        for (String name : List.of("a", "b", "c")) {
            nodes.add(BerthProcess.startWithConfig(storage(name, url, bucket), http(htpasswd), "{\"level\":\"info\"}"));
        }
    }

    static String storage(String node, String url, String bucket) {
        return """
                {"rootDirectory":"%s","gc":false,
                 "database":{"url":"%s","user":"%s","password":"%s"},
                 "storageDriver":{"name":"s3","region":"%s","regionendpoint":"%s","bucket":"%s","rootdirectory":"/cluster",
                   "forcepathstyle":true,"accesskey":"%s","secretkey":"%s"}}""".formatted(dir.resolve(node), url,
                TestPostgres.user(), TestPostgres.password(), TestS3.REGION, TestS3.endpoint(), bucket, TestS3.ACCESS_KEY,
                TestS3.SECRET_KEY);
    }

    static String http(Path htpasswd) {
        return """
                "auth":{"htpasswd":{"path":"%s"}},
                "accessControl":{"repositories":{"**":{"policies":[{"users":["ci"],"actions":["read","create"]}]}},
                  "adminPolicy":{"users":["admin"],"actions":["read","create","update","delete"]}},""".formatted(htpasswd);
    }

    @AfterAll
    static void stop() throws Exception {
        for (BerthProcess node : nodes) {
            node.close();
        }
    }

    private static RegistryClient admin(int node) {
        return nodes.get(node).client().as("admin", ADMIN_PASSWORD);
    }

    private static RegistryClient ci(int node) {
        return nodes.get(node).client().as("ci", CI_PASSWORD);
    }

    @Test
    void aChunkedUploadStartedOnOneNodeIsContinuedOnAnotherAndFinishedOnAThird() {
        byte[] blob = TestImages.randomBytes(3 * 1024 * 1024 + 17);
        Digest digest = Digest.compute(DigestAlgorithm.SHA256, blob);
        int half = blob.length / 2;
        Response started = admin(0).post("/v2/cluster/chunks/blobs/uploads/", new byte[0]);
        assertThat(started.status()).isEqualTo(202);
        Response patched = admin(1).patch(started.header("Location"), Arrays.copyOf(blob, half),
                "Content-Range", "0-" + (half - 1), "Content-Type", "application/octet-stream");
        assertThat(patched.status()).as(patched.text()).isEqualTo(202);
        assertThat(patched.header("Range")).isEqualTo("0-" + (half - 1));
        Response status = admin(2).get(patched.header("Location"));
        assertThat(status.status()).isEqualTo(204);
        assertThat(status.header("Range")).isEqualTo("0-" + (half - 1));
        Response put = admin(2).put(patched.header("Location") + "?digest=" + digest, Arrays.copyOfRange(blob, half, blob.length),
                "Content-Range", half + "-" + (blob.length - 1), "Content-Type", "application/octet-stream");
        assertThat(put.status()).as(put.text()).isEqualTo(201);
        for (int node = 0; node < 3; node++) {
            Response got = admin(node).get("/v2/cluster/chunks/blobs/" + digest);
            assertThat(got.status()).isEqualTo(200);
            assertThat(got.body()).isEqualTo(blob);
        }
    }

    @Test
    void aPushToOneNodeIsPulledFromEveryOtherAtOnce() {
        String repo = "cluster/read-after-write";
        for (int round = 0; round < 5; round++) {
            Image image = TestImages.image(2, 5_000);
            admin(round % 3).push(repo, "latest", image); // the tag moves every round, on another node each time
            for (int node = 0; node < 3; node++) {
                Response manifest = ci(node).get("/v2/" + repo + "/manifests/latest", "Accept", image.mediaType());
                assertThat(manifest.status()).isEqualTo(200);
                assertThat(manifest.header("Docker-Content-Digest")).as("round %d on node %d", round, node)
                        .isEqualTo(image.digest().toString());
                for (byte[] blob : image.blobs()) {
                    assertThat(ci(node).get("/v2/" + repo + "/blobs/" + TestImages.sha256(blob)).body()).isEqualTo(blob);
                }
            }
        }
        for (int node = 0; node < 3; node++) {
            assertThat(ci(node).get("/v2/_catalog").text()).contains(repo);
            assertThat(ci(node).get("/v2/" + repo + "/tags/list").json().path("tags").get(0).asText()).isEqualTo("latest");
        }
    }

    @Test
    void fiftyConcurrentPushesOfOneNewImmutableTagAcrossNodesHaveExactlyOneWinner() throws Exception {
        String repo = "cluster/immutable";
        Image base = TestImages.image(1, 2_000);
        for (byte[] blob : base.blobs()) {
            ci(0).pushBlob(repo, blob);
        }
        // 50 different manifests over the same config and layer: differing only in an annotation.
        List<byte[]> manifests = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            var json = (com.fasterxml.jackson.databind.node.ObjectNode) new com.fasterxml.jackson.databind.ObjectMapper()
                    .readTree(base.manifest());
            json.putObject("annotations").put("attempt", Integer.toString(i));
            manifests.add(TestImages.bytes(json));
        }
        CountDownLatch go = new CountDownLatch(1);
        List<Future<Response>> results = new ArrayList<>();
        try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < 50; i++) {
                int attempt = i;
                results.add(pool.submit(() -> {
                    go.await();
                    return ci(attempt % 3).put("/v2/" + repo + "/manifests/release", manifests.get(attempt),
                            "Content-Type", MediaTypes.OCI_MANIFEST);
                }));
            }
            go.countDown();
        }
        int won = -1;
        int created = 0;
        for (int i = 0; i < 50; i++) {
            Response r = results.get(i).get();
            if (r.status() == 201) {
                created++;
                won = i;
            } else {
                assertThat(r.status()).as("attempt %d: %s", i, r.text()).isEqualTo(403);
                assertThat(r.errorCode()).isEqualTo("DENIED");
            }
        }
        assertThat(created).isEqualTo(1);
        String winner = TestImages.sha256(manifests.get(won)).toString();
        for (int node = 0; node < 3; node++) {
            assertThat(ci(node).get("/v2/" + repo + "/manifests/release", "Accept", MediaTypes.OCI_MANIFEST)
                    .header("Docker-Content-Digest")).isEqualTo(winner);
        }
    }

    @Test
    @Order(Integer.MAX_VALUE) // last (others default to the middle): it leaves node b dead
    void aNodeKilledMidPushLosesNothingTheClusterAcknowledged() throws Exception {
        Map<Digest, byte[]> blobs = new ConcurrentHashMap<>();
        Map<String, Image> tags = new ConcurrentHashMap<>();
        AtomicBoolean stop = new AtomicBoolean();
        CountDownLatch warmedUp = new CountDownLatch(6);
        List<Thread> pushers = new ArrayList<>();
        for (int p = 0; p < 6; p++) {
            int pusher = p;
            pushers.add(Thread.ofVirtual().start(() -> push(pusher, blobs, tags, stop, warmedUp)));
        }
        warmedUp.await();
        Thread.sleep(1500);
        nodes.get(1).kill();
        Thread.sleep(300);
        stop.set(true);
        for (Thread t : pushers) {
            t.join();
        }
        assertThat(tags.keySet()).as("pushes through the killed node were acknowledged before the kill")
                .anyMatch(t -> t.startsWith("node1-"));
        for (int node : new int[] {0, 2}) {
            for (Map.Entry<Digest, byte[]> blob : blobs.entrySet()) {
                Response r = admin(node).get("/v2/cluster/crash/blobs/" + blob.getKey());
                assertThat(r.status()).as("acknowledged blob %s on node %d", blob.getKey(), node).isEqualTo(200);
                assertThat(r.body()).isEqualTo(blob.getValue());
            }
            for (Map.Entry<String, Image> tag : tags.entrySet()) {
                Response r = admin(node).get("/v2/cluster/crash/manifests/" + tag.getKey(), "Accept", MediaTypes.OCI_MANIFEST);
                assertThat(r.status()).as("acknowledged tag %s on node %d", tag.getKey(), node).isEqualTo(200);
                assertThat(r.body()).isEqualTo(tag.getValue().manifest());
            }
        }
        admin(2).push("cluster/crash", "after-the-kill", TestImages.image(1, 1000));
    }

    /** Pushes image after image through one node (pusher % 3), alternating whole and chunked blob uploads. */
    private static void push(int pusher, Map<Digest, byte[]> blobs, Map<String, Image> tags, AtomicBoolean stop,
                             CountDownLatch warmedUp) {
        int node = pusher % 3;
        RegistryClient client = admin(node);
        boolean counted = false;
        for (int round = 0; !stop.get(); round++) {
            try {
                Image image = TestImages.image(2, 20_000 + pusher * 100);
                for (byte[] blob : image.blobs()) {
                    blobs.put(pushBlob(client, blob, round % 2 == 0), blob);
                }
                String tag = "node" + node + "-p" + pusher + "-" + round;
                client.pushManifest("cluster/crash", tag, MediaTypes.OCI_MANIFEST, image.manifest());
                tags.put(tag, image);
            } catch (AssertionError | UncheckedIOException | IllegalStateException killed) {
                if (!counted) {
                    warmedUp.countDown();
                }
                return; // the node died under us; what was not acknowledged does not count
            }
            if (!counted) {
                warmedUp.countDown();
                counted = true;
            }
        }
    }

    private static Digest pushBlob(RegistryClient client, byte[] blob, boolean whole) {
        if (whole) {
            return client.pushBlob("cluster/crash", blob);
        }
        Response session = client.post("/v2/cluster/crash/blobs/uploads/", new byte[0]);
        if (session.status() != 202) {
            throw new IllegalStateException("session: " + session.status());
        }
        int half = blob.length / 2;
        Response patch = client.patch(session.header("Location"), Arrays.copyOf(blob, half), "Content-Range", "0-" + (half - 1));
        Digest digest = Digest.compute(DigestAlgorithm.SHA256, blob);
        Response put = client.put(patch.header("Location") + "?digest=" + digest, Arrays.copyOfRange(blob, half, blob.length),
                "Content-Range", half + "-" + (blob.length - 1));
        if (put.status() != 201) {
            throw new IllegalStateException("put: " + put.status());
        }
        return digest;
    }
}
