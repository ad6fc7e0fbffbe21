package dev.berth.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.berth.oci.Digest;
import dev.berth.oci.MediaTypes;
import dev.berth.testing.LogCapture;
import dev.berth.testing.RawHttp;
import dev.berth.testing.RegistryClient;
import dev.berth.testing.RegistryClient.Response;
import dev.berth.testing.TestBerth;
import dev.berth.testing.TestImages;
import dev.berth.testing.TestImages.Image;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Requests no well-behaved client sends: each must get a precise 4xx, change nothing, and log no server error. */
class HostileInputTest {
    @RegisterExtension
    static final TestBerth BERTH = new TestBerth();

    private LogCapture log;

    @BeforeEach
    void captureLog() {
        log = new LogCapture();
    }

    @AfterEach
    void noServerErrors() {
        try {
            assertThat(log.errors()).as("client mistakes are not server errors").isEmpty();
        } finally {
            log.close();
        }
    }

    private RegistryClient client() {
        return BERTH.client();
    }

    private String session(String repo) {
        return client().post("/v2/" + repo + "/blobs/uploads/", new byte[0]).header("Location");
    }

    private static String id(String location) {
        return location.substring(location.lastIndexOf('/') + 1);
    }

    private String host() {
        return "Host: " + BERTH.hostPort() + "\r\n";
    }

    @Test
    void aSlowChunkDelaysOnlyItsOwnSession() throws Exception {
        String repo = TestBerth.newRepository("hostile");
        String slow = session(repo);
        try (RawHttp held = new RawHttp(BERTH.uri())) {
            held.send("PATCH " + slow + " HTTP/1.1\r\n" + host() + "Content-Length: 1000\r\nContent-Range: 0-999\r\n\r\nx");
            Thread.sleep(200);
            // Other sessions carry on, even one an attacker picked to share anything derived from the id
            // (here: its hash modulo 256, which is how locks were once striped); so does a status check.
            int slowBucket = Math.floorMod(id(slow).hashCode(), 256);
            String neighbour = null;
            for (int i = 0; i < 5000 && neighbour == null; i++) {
                String candidate = session(TestBerth.newRepository("victim"));
                if (Math.floorMod(id(candidate).hashCode(), 256) == slowBucket) {
                    neighbour = candidate;
                }
            }
            assertThat(neighbour).isNotNull();
            String target = neighbour;
            Response patched = CompletableFuture.supplyAsync(() -> client().patch(target, new byte[] {1}))
                    .get(10, TimeUnit.SECONDS);
            assertThat(patched.status()).isEqualTo(202);
            assertThat(client().get(slow).status()).isEqualTo(204);
        }
    }

    @Test
    void aChunkCutShortByADisconnectLeavesTheSessionAsItWas() throws Exception {
        String repo = TestBerth.newRepository("hostile");
        String location = session(repo);
        client().patch(location, new byte[10], "Content-Range", "0-9");
        try (RawHttp raw = new RawHttp(BERTH.uri())) {
            raw.send("PATCH " + location + " HTTP/1.1\r\n" + host() + "Content-Length: 100\r\nContent-Range: 10-109\r\n\r\n");
            raw.send(new byte[40]);
            raw.shutdownOutput();
            raw.response();
        }
        Thread.sleep(300);
        assertThat(client().get(location).header("Range")).isEqualTo("0-9");
    }

    @Test
    void anAnswerThatNeedsNoBodyWaitsForItOnlyBrieflyAndThenSaysTheConnectionCloses() throws Exception {
        // Starting a session reads no body; one that never ends must neither hold the answer nor spoil it.
        String repository = TestBerth.newRepository("hostile");
        try (RawHttp raw = new RawHttp(BERTH.uri())) {
            String response = raw.send("POST /v2/" + repository + "/blobs/uploads/ HTTP/1.1\r\n" + host()
                    + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n").response();
            assertThat(RawHttp.status(response)).isEqualTo(202);
            assertThat(response.toLowerCase()).contains("connection: close");
        }
        try (RawHttp raw = new RawHttp(BERTH.uri())) {
            // The whole body at once: read, and the connection carries the next request.
            raw.send("POST /v2/" + repository + "/blobs/uploads/ HTTP/1.1\r\n" + host()
                    + "Content-Length: 5\r\n\r\nhello");
            String response = raw.response();
            assertThat(RawHttp.status(response)).isEqualTo(202);
            assertThat(response.toLowerCase()).doesNotContain("connection: close");
            assertThat(RawHttp.status(raw.send("GET /v2/ HTTP/1.1\r\n" + host() + "\r\n").response())).isEqualTo(200);
        }
    }

    @Test
    void malformedChunkedEncodingIs400() throws Exception {
        String location = session(TestBerth.newRepository("hostile"));
        try (RawHttp raw = new RawHttp(BERTH.uri())) {
            String response = raw.send("PATCH " + location + " HTTP/1.1\r\n" + host()
                    + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\nxx\r\n0\r\n\r\n").response();
            assertThat(RawHttp.status(response)).isEqualTo(400);
            assertThat(response).contains("\"code\":\"BLOB_UPLOAD_INVALID\"");
        }
    }

    @Test
    void transferCodingsOtherThanChunkedAreRefused() throws Exception {
        String location = session(TestBerth.newRepository("hostile"));
        try (RawHttp raw = new RawHttp(BERTH.uri())) {
            String response = raw.send("PATCH " + location + " HTTP/1.1\r\n" + host()
                    + "Transfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n").response();
            assertThat(RawHttp.status(response)).isIn(400, 501);
        }
        assertThat(client().get(location).header("Range")).isEqualTo("0-0");
    }

    @Test
    void badPercentEncodingInTheQueryIs400() throws Exception {
        for (String path : List.of("/v2/a/b/tags/list?n=%zz", "/v2/_catalog?last=%ff%fe", "/v2/a/blobs/uploads/?digest=%")) {
            String method = path.contains("uploads") ? "POST" : "GET";
            try (RawHttp raw = new RawHttp(BERTH.uri())) {
                String response = raw.send(method + " " + path + " HTTP/1.1\r\n" + host() + "Content-Length: 0\r\n\r\n")
                        .response();
                assertThat(RawHttp.status(response)).as(path).isEqualTo(400);
                assertThat(response).contains("Content-Type: application/json");
            }
        }
    }

    @Test
    void pathParametersAreRefused() {
        String repo = TestBerth.newRepository("hostile");
        client().push(repo, "v1", TestImages.image(1, 10));
        String[] parts = repo.split("/");
        for (String path : List.of("/v2/" + parts[0] + ";/" + parts[1] + "/manifests/v1",
                "/v2/" + repo + "/manifests;x/v1", "/v2/" + repo + "/manifests/v1;y")) {
            Response r = client().get(path);
            assertThat(r.status()).as(path).isEqualTo(400);
            assertThat(client().delete(path).status()).as(path).isEqualTo(400);
        }
        assertThat(client().get("/v2/" + repo + "/manifests/v1").status()).isEqualTo(200);
    }

    @Test
    void jettysOwnRefusalsAreJsonToo() {
        for (String path : List.of("/v2/a%2Fb/tags/list", "/v2/a/%2e%2e/b/tags/list", "/v2/a" + "/b".repeat(5000))) {
            Response r = client().get(path);
            assertThat(r.status()).as(path).isBetween(400, 499);
            assertThat(r.header("Content-Type")).as(path).startsWith("application/json");
            assertThat(r.text()).contains("\"errors\"");
        }
    }

    @Test
    void aRefusedManifestWritesNothing() throws Exception {
        String repo = TestBerth.newRepository("hostile");
        Image image = TestImages.image(1, 10);
        Response r = client().put("/v2/" + repo + "/manifests/v1", image.manifest(), "Content-Type", MediaTypes.OCI_MANIFEST);
        assertThat(r.status()).isEqualTo(400);
        Digest digest = image.digest();
        assertThat(Files.exists(BERTH.root().resolve("blobs/sha256/" + digest.hex().substring(0, 2) + "/" + digest.hex())))
                .isFalse();
    }

    @Test
    void manifestsOtherClientsWouldReadDifferentlyAreRefused() {
        String repo = TestBerth.newRepository("hostile");
        Image image = TestImages.image(1, 10);
        for (byte[] blob : image.blobs()) {
            client().pushBlob(repo, blob);
        }
        String good = new String(image.manifest(), StandardCharsets.UTF_8);
        List<byte[]> bad = List.of((good + "xyz").getBytes(StandardCharsets.UTF_8),
                (good + good).getBytes(StandardCharsets.UTF_8),
                good.getBytes(StandardCharsets.UTF_16),
                ("\uFEFF" + good).getBytes(StandardCharsets.UTF_8),
                good.replaceFirst("\"size\":(\\d+)", "\"size\":$1.0").getBytes(StandardCharsets.UTF_8),
                good.replace("\"layers\"", "\"Layers\"").getBytes(StandardCharsets.UTF_8));
        for (byte[] body : bad) {
            Response r = client().put("/v2/" + repo + "/manifests/bad", body, "Content-Type", MediaTypes.OCI_MANIFEST);
            assertThat(r.status()).as(new String(body, StandardCharsets.UTF_8)).isEqualTo(400);
            assertThat(r.errorCode()).isEqualTo("MANIFEST_INVALID");
        }
        assertThat(client().get("/v2/" + repo + "/manifests/bad").status()).isEqualTo(404);
    }

    @Test
    void headIsAnsweredWhereverGetIs() {
        String repo = TestBerth.newRepository("hostile");
        Image image = TestImages.image(1, 10);
        client().push(repo, "v1", image);
        assertThat(client().head("/v2/_catalog").status()).isEqualTo(200);
        assertThat(client().head("/v2/" + repo + "/tags/list").status()).isEqualTo(200);
        assertThat(client().head("/v2/" + repo + "/referrers/" + image.digest()).status()).isEqualTo(200);
        assertThat(client().head(session(repo)).status()).isEqualTo(204);
    }

    @Test
    void notModifiedCarriesNoLengthAndHeadHonoursIfNoneMatch() {
        String repo = TestBerth.newRepository("hostile");
        Image image = TestImages.image(1, 10);
        client().push(repo, "v1", image);
        String etag = "\"" + image.digest() + "\"";
        Response get = client().get("/v2/" + repo + "/manifests/v1", "If-None-Match", etag);
        assertThat(get.status()).isEqualTo(304);
        assertThat(get.header("Content-Length")).isIn(null, Integer.toString(image.manifest().length));
        assertThat(client().head("/v2/" + repo + "/manifests/v1", "If-None-Match", etag).status()).isEqualTo(304);
    }

    @Test
    void aRePushCannotChangeHowAStoredManifestIsServed() {
        String repo = TestBerth.newRepository("hostile");
        Image image = TestImages.image(1, 10);
        for (byte[] blob : image.blobs()) {
            client().pushBlob(repo, blob);
        }
        byte[] untyped = new String(image.manifest(), StandardCharsets.UTF_8)
                .replace("\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\",", "").getBytes(StandardCharsets.UTF_8);
        client().pushManifest(repo, "a", MediaTypes.OCI_MANIFEST, untyped);
        client().pushManifest(repo, "b", MediaTypes.DOCKER_MANIFEST, untyped);
        assertThat(client().get("/v2/" + repo + "/manifests/a").header("Content-Type")).isEqualTo(MediaTypes.OCI_MANIFEST);
        assertThat(client().get("/v2/" + repo + "/manifests/b").header("Content-Type")).isEqualTo(MediaTypes.OCI_MANIFEST);
    }

    @Test
    void rangeUnitsAreCaseInsensitiveAndContentRangeTotalsMustFit() {
        String repo = TestBerth.newRepository("hostile");
        Digest digest = client().pushBlob(repo, TestImages.randomBytes(100));
        assertThat(client().get("/v2/" + repo + "/blobs/" + digest, "Range", "BYTES=0-9").status()).isEqualTo(206);
        String location = session(repo);
        Response r = client().patch(location, new byte[2], "Content-Range", "0-1/1");
        assertThat(r.status()).isEqualTo(400);
        assertThat(client().get(location).header("Range")).isEqualTo("0-0");
    }
}
