package dev.berth.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.berth.oci.Digest;
import dev.berth.testing.RegistryClient;
import dev.berth.testing.RegistryClient.Response;
import dev.berth.testing.TestBerth;
import dev.berth.testing.TestImages;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class BlobsApiTest {
    @RegisterExtension
    static final TestBerth BERTH = new TestBerth();

    private RegistryClient client() {
        return BERTH.client();
    }

    @Test
    void servesABlobExactlyWithItsHeaders() {
        String repo = TestBerth.newRepository("blobs");
        byte[] content = TestImages.randomBytes(3 * 1024 * 1024 + 17);
        Digest digest = client().pushBlob(repo, content);
        Response get = client().get("/v2/" + repo + "/blobs/" + digest);
        assertThat(get.status()).isEqualTo(200);
        assertThat(get.body()).isEqualTo(content);
        assertThat(get.header("Content-Length")).isEqualTo(Integer.toString(content.length));
        assertThat(get.header("Docker-Content-Digest")).isEqualTo(digest.toString());
        assertThat(get.header("Content-Type")).isEqualTo("application/octet-stream");
        assertThat(get.header("Accept-Ranges")).isEqualTo("bytes");
        Response head = client().head("/v2/" + repo + "/blobs/" + digest);
        assertThat(head.status()).isEqualTo(200);
        assertThat(head.body()).isEmpty();
        for (String h : new String[] {"Content-Length", "Docker-Content-Digest", "Content-Type", "Accept-Ranges", "ETag"}) {
            assertThat(head.header(h)).as(h).isEqualTo(get.header(h));
        }
    }

    @Test
    void servesSingleRanges() {
        String repo = TestBerth.newRepository("blobs");
        byte[] content = TestImages.randomBytes(2048);
        Digest digest = client().pushBlob(repo, content);
        String path = "/v2/" + repo + "/blobs/" + digest;
        Response r = client().get(path, "Range", "bytes=500-1499");
        assertThat(r.status()).isEqualTo(206);
        assertThat(r.body()).isEqualTo(Arrays.copyOfRange(content, 500, 1500));
        assertThat(r.header("Content-Range")).isEqualTo("bytes 500-1499/2048");
        assertThat(r.header("Content-Length")).isEqualTo("1000");
        assertThat(client().get(path, "Range", "bytes=500-").body()).isEqualTo(Arrays.copyOfRange(content, 500, 2048));
        Response suffix = client().get(path, "Range", "bytes=-500");
        assertThat(suffix.body()).isEqualTo(Arrays.copyOfRange(content, 1548, 2048));
        assertThat(suffix.header("Content-Range")).isEqualTo("bytes 1548-2047/2048");
        Response clipped = client().get(path, "Range", "bytes=2000-5000");
        assertThat(clipped.status()).isEqualTo(206);
        assertThat(clipped.header("Content-Range")).isEqualTo("bytes 2000-2047/2048");
        for (String unsatisfiable : new String[] {"bytes=500-0", "bytes=5000-10000", "bytes=2048-"}) {
            Response bad = client().get(path, "Range", unsatisfiable);
            assertThat(bad.status()).as(unsatisfiable).isEqualTo(416);
            assertThat(bad.header("Content-Range")).isEqualTo("bytes */2048");
        }
        Response multi = client().get(path, "Range", "bytes=0-1,4-5");
        assertThat(multi.status()).isEqualTo(200);
        assertThat(multi.body()).isEqualTo(content);
    }

    @Test
    void aDigestIsNotAKeyToAnotherRepositorysBlobs() {
        String owner = TestBerth.newRepository("private");
        String other = TestBerth.newRepository("other");
        Digest digest = client().pushBlob(owner, TestImages.randomBytes(100));
        client().pushBlob(other, TestImages.randomBytes(100));
        Response r = client().get("/v2/" + other + "/blobs/" + digest);
        assertThat(r.status()).isEqualTo(404);
        assertThat(r.errorCode()).isEqualTo("BLOB_UNKNOWN");
        Response unknownRepo = client().head("/v2/" + TestBerth.newRepository("nobody") + "/blobs/" + digest);
        assertThat(unknownRepo.status()).isEqualTo(404);
        Response json = client().get("/v2/" + TestBerth.newRepository("nobody") + "/blobs/" + digest);
        assertThat(json.errorCode()).isEqualTo("NAME_UNKNOWN");
    }

    @Test
    void malformedDigestsAre400() {
        for (String digest : new String[] {"sha256:abc", "md5:d41d8cd98f00b204e9800998ecf8427e", "notadigest", "sha256:"
                + "G".repeat(64)}) {
            Response r = client().get("/v2/repo/blobs/" + digest);
            assertThat(r.status()).as(digest).isIn(400, 404);
            if (digest.contains(":")) {
                assertThat(r.status()).isEqualTo(400);
                assertThat(r.errorCode()).isEqualTo("DIGEST_INVALID");
            }
        }
    }

    @Test
    void deletesABlobFromOneRepository() {
        String repo = TestBerth.newRepository("blobs");
        String keeper = TestBerth.newRepository("blobs");
        byte[] content = TestImages.randomBytes(64);
        Digest digest = client().pushBlob(repo, content);
        client().pushBlob(keeper, content);
        assertThat(client().delete("/v2/" + repo + "/blobs/" + digest).status()).isEqualTo(202);
        assertThat(client().head("/v2/" + repo + "/blobs/" + digest).status()).isEqualTo(404);
        assertThat(client().delete("/v2/" + repo + "/blobs/" + digest).status()).isEqualTo(404);
        assertThat(client().get("/v2/" + keeper + "/blobs/" + digest).body()).isEqualTo(content);
    }

    @Test
    void deletesABlobAManifestUsesAsTheSpecAllows() {
        // The conformance suite deletes blobs before manifests in some orders; the spec allows 202, 404 or 405 only.
        String repo = TestBerth.newRepository("blobs");
        TestImages.Image image = TestImages.image(1, 100);
        client().push(repo, "v1", image);
        Digest layer = TestImages.sha256(image.blobs().get(0));
        assertThat(client().delete("/v2/" + repo + "/blobs/" + layer).status()).isEqualTo(202);
        assertThat(client().head("/v2/" + repo + "/blobs/" + layer).status()).isEqualTo(404);
        assertThat(client().get("/v2/" + repo + "/manifests/v1").status()).as("the manifest stays").isEqualTo(200);
        Response own = client().delete("/v2/" + repo + "/blobs/" + image.digest());
        assertThat(own.status()).as("a manifest's own bytes go by deleting the manifest").isEqualTo(409);
        assertThat(client().delete("/v2/" + repo + "/manifests/" + image.digest()).status()).isEqualTo(202);
    }

    @Test
    void servesTheEmptyBlob() {
        String repo = TestBerth.newRepository("blobs");
        Digest digest = client().pushBlob(repo, new byte[0]);
        Response r = client().get("/v2/" + repo + "/blobs/" + digest);
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.header("Content-Length")).isEqualTo("0");
        assertThat(r.body()).isEmpty();
        assertThat(client().get("/v2/" + repo + "/blobs/" + digest, "Range", "bytes=0-").status()).isEqualTo(416);
    }
}
