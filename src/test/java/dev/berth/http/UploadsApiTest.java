package dev.berth.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.berth.oci.Digest;
import dev.berth.oci.DigestAlgorithm;
import dev.berth.testing.RegistryClient;
import dev.berth.testing.RegistryClient.Response;
import dev.berth.testing.TestBerth;
import dev.berth.testing.TestImages;
import java.io.ByteArrayInputStream;
import java.net.http.HttpRequest;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class UploadsApiTest {
    @RegisterExtension
    static final TestBerth BERTH = new TestBerth();

    private RegistryClient client() {
        return BERTH.client();
    }

    private String startSession(String repo) {
        Response r = client().post("/v2/" + repo + "/blobs/uploads/", new byte[0]);
        assertThat(r.status()).isEqualTo(202);
        assertThat(r.header("Range")).isEqualTo("0-0");
        assertThat(r.header("Docker-Upload-UUID")).isNotBlank();
        assertThat(r.header("Location")).isEqualTo("/v2/" + repo + "/blobs/uploads/" + r.header("Docker-Upload-UUID"));
        return r.header("Location");
    }

    private void assertBlob(String repo, Digest digest, byte[] content) {
        Response r = client().get("/v2/" + repo + "/blobs/" + digest);
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.body()).isEqualTo(content);
    }

    private static HttpRequest.BodyPublisher streamed(byte[] content) {
        // An InputStream publisher has no length: the request goes out with chunked transfer encoding.
        return HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(content));
    }

    @Test
    void postThenPut() {
        String repo = TestBerth.newRepository("up");
        byte[] content = TestImages.randomBytes(1000);
        Digest digest = TestImages.sha256(content);
        String location = startSession(repo);
        Response status = client().get(location);
        assertThat(status.status()).isEqualTo(204);
        assertThat(status.header("Range")).isEqualTo("0-0");
        assertThat(status.header("Location")).isEqualTo(location);
        Response put = client().put(location + "?digest=" + digest, content, "Content-Type", "application/octet-stream");
        assertThat(put.status()).isEqualTo(201);
        assertThat(put.header("Location")).isEqualTo("/v2/" + repo + "/blobs/" + digest);
        assertThat(put.header("Docker-Content-Digest")).isEqualTo(digest.toString());
        assertBlob(repo, digest, content);
        assertThat(client().get(location).status()).as("a finished session is gone").isEqualTo(404);
    }

    @Test
    void chunksWithContentRange() {
        String repo = TestBerth.newRepository("up");
        byte[] content = TestImages.randomBytes(3000);
        Digest digest = TestImages.sha256(content);
        String location = startSession(repo);
        for (int start = 0; start < 3000; start += 1000) {
            Response r = client().patch(location, Arrays.copyOfRange(content, start, start + 1000),
                    "Content-Type", "application/octet-stream", "Content-Range", start + "-" + (start + 999));
            assertThat(r.status()).isEqualTo(202);
            assertThat(r.header("Range")).isEqualTo("0-" + (start + 999));
            location = r.header("Location");
        }
        Response put = client().put(location + "?digest=" + digest, new byte[0]);
        assertThat(put.status()).isEqualTo(201);
        assertBlob(repo, digest, content);
    }

    @Test
    void lastChunkInTheClosingPut() {
        String repo = TestBerth.newRepository("up");
        byte[] content = TestImages.randomBytes(2000);
        Digest digest = TestImages.sha256(content);
        String location = startSession(repo);
        client().patch(location, Arrays.copyOf(content, 1200), "Content-Range", "0-1199");
        Response put = client().put(location + "?digest=" + digest, Arrays.copyOfRange(content, 1200, 2000),
                "Content-Range", "1200-1999");
        assertThat(put.status()).isEqualTo(201);
        assertBlob(repo, digest, content);
    }

    @Test
    void anOutOfOrderChunkIs416AndChangesNothing() {
        String repo = TestBerth.newRepository("up");
        byte[] content = TestImages.randomBytes(3000);
        Digest digest = TestImages.sha256(content);
        String location = startSession(repo);
        Response skip = client().patch(location, Arrays.copyOfRange(content, 1000, 2000), "Content-Range", "1000-1999");
        assertThat(skip.status()).isEqualTo(416);
        assertThat(skip.errorCode()).isEqualTo("BLOB_UPLOAD_INVALID");
        assertThat(skip.header("Range")).isEqualTo("0-0");
        assertThat(skip.header("Location")).isEqualTo(location);
        client().patch(location, Arrays.copyOf(content, 1000), "Content-Range", "0-999");
        Response again = client().patch(location, Arrays.copyOf(content, 1000), "Content-Range", "0-999");
        assertThat(again.status()).isEqualTo(416);
        assertThat(again.header("Range")).isEqualTo("0-999");
        Response backwards = client().patch(location, new byte[1], "Content-Range", "1000-999");
        assertThat(backwards.status()).isEqualTo(416);
        Response lastOutOfOrder = client().put(location + "?digest=" + digest, Arrays.copyOfRange(content, 2000, 3000),
                "Content-Range", "2000-2999");
        assertThat(lastOutOfOrder.status()).isEqualTo(416);
        assertThat(client().get(location).header("Range")).isEqualTo("0-999");
        client().patch(location, Arrays.copyOfRange(content, 1000, 3000), "Content-Range", "1000-2999");
        assertThat(client().put(location + "?digest=" + digest, new byte[0]).status()).isEqualTo(201);
        assertBlob(repo, digest, content);
    }

    @Test
    void aChunkWhoseBodyDisagreesWithItsRangeChangesNothing() {
        String repo = TestBerth.newRepository("up");
        String location = startSession(repo);
        client().patch(location, new byte[10], "Content-Range", "0-9");
        Response r = client().send("PATCH", location, streamed(new byte[5]), "Content-Range", "10-29");
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.errorCode()).isEqualTo("BLOB_UPLOAD_INVALID");
        assertThat(client().get(location).header("Range")).isEqualTo("0-9");
    }

    @Test
    void streamedPatchWithChunkedTransferEncoding() {
        String repo = TestBerth.newRepository("up");
        byte[] content = TestImages.randomBytes(5 * 1024 * 1024 + 3);
        Digest digest = TestImages.sha256(content);
        String location = startSession(repo);
        Response patch = client().send("PATCH", location, streamed(content), "Content-Type", "application/octet-stream");
        assertThat(patch.status()).isEqualTo(202);
        assertThat(patch.header("Range")).isEqualTo("0-" + (content.length - 1));
        Response put = client().put(patch.header("Location") + "?digest=" + digest, new byte[0]);
        assertThat(put.status()).isEqualTo(201);
        assertThat(put.header("Location")).isNotBlank();
        assertBlob(repo, digest, content);
    }

    @Test
    void singlePostUpload() {
        String repo = TestBerth.newRepository("up");
        byte[] content = TestImages.randomBytes(4096);
        Digest digest = TestImages.sha256(content);
        Response r = client().post("/v2/" + repo + "/blobs/uploads/?digest=" + digest, content,
                "Content-Type", "application/octet-stream");
        assertThat(r.status()).isEqualTo(201);
        assertThat(r.header("Location")).isEqualTo("/v2/" + repo + "/blobs/" + digest);
        assertThat(r.header("Docker-Content-Digest")).isEqualTo(digest.toString());
        assertBlob(repo, digest, content);
    }

    @Test
    void aWrongDigestStoresNothing() {
        String repo = TestBerth.newRepository("up");
        byte[] content = TestImages.randomBytes(100);
        Digest claimed = TestImages.sha256(TestImages.randomBytes(100));
        Response post = client().post("/v2/" + repo + "/blobs/uploads/?digest=" + claimed, content);
        assertThat(post.status()).isEqualTo(400);
        assertThat(post.errorCode()).isEqualTo("DIGEST_INVALID");
        assertThat(client().head("/v2/" + repo + "/blobs/" + claimed).status()).isEqualTo(404);
        assertThat(client().head("/v2/" + repo + "/blobs/" + TestImages.sha256(content)).status()).isEqualTo(404);

        String location = startSession(repo);
        client().patch(location, content);
        Response put = client().put(location + "?digest=" + claimed, new byte[0]);
        assertThat(put.status()).isEqualTo(400);
        assertThat(put.errorCode()).isEqualTo("DIGEST_INVALID");
        assertThat(client().head("/v2/" + repo + "/blobs/" + claimed).status()).isEqualTo(404);
        assertThat(client().get("/v2/_catalog").json().path("repositories").toString()).doesNotContain(repo);
    }

    @Test
    void theClosingPutNeedsAWellFormedDigest() {
        String repo = TestBerth.newRepository("up");
        String location = startSession(repo);
        client().patch(location, new byte[] {1, 2, 3});
        Response missing = client().put(location, new byte[0]);
        assertThat(missing.status()).isEqualTo(400);
        assertThat(missing.errorCode()).isEqualTo("DIGEST_INVALID");
        Response malformed = client().put(location + "?digest=sha256:nope", new byte[0]);
        assertThat(malformed.status()).isEqualTo(400);
        assertThat(client().get(location).header("Range")).as("session intact").isEqualTo("0-2");
    }

    @Test
    void cancelsASession() {
        String repo = TestBerth.newRepository("up");
        String location = startSession(repo);
        client().patch(location, new byte[] {1, 2, 3});
        assertThat(client().delete(location).status()).isEqualTo(204);
        Response gone = client().get(location);
        assertThat(gone.status()).isEqualTo(404);
        assertThat(gone.errorCode()).isEqualTo("BLOB_UPLOAD_UNKNOWN");
        assertThat(client().delete(location).status()).isEqualTo(404);
    }

    @Test
    void aSessionBelongsToItsRepository() {
        String repo = TestBerth.newRepository("up");
        String location = startSession(repo);
        String id = location.substring(location.lastIndexOf('/') + 1);
        Response r = client().get("/v2/" + TestBerth.newRepository("thief") + "/blobs/uploads/" + id);
        assertThat(r.status()).isEqualTo(404);
        assertThat(r.errorCode()).isEqualTo("BLOB_UPLOAD_UNKNOWN");
        for (String bogus : new String[] {"not-a-session", "00000000-0000-0000-0000-000000000000", "..", "berth.db"}) {
            assertThat(client().patch("/v2/" + repo + "/blobs/uploads/" + bogus, new byte[1]).status()).as(bogus)
                    .isEqualTo(404);
        }
    }

    @Test
    void sha512Uploads() {
        String repo = TestBerth.newRepository("up");
        byte[] content = TestImages.randomBytes(2500);
        Digest digest = Digest.compute(DigestAlgorithm.SHA512, content);
        Response whole = client().post("/v2/" + repo + "/blobs/uploads/?digest=" + digest, content);
        assertThat(whole.status()).isEqualTo(201);
        assertThat(whole.header("Docker-Content-Digest")).isEqualTo(digest.toString());
        assertBlob(repo, digest, content);

        byte[] other = TestImages.randomBytes(2500);
        Digest otherDigest = Digest.compute(DigestAlgorithm.SHA512, other);
        String location = startSession(repo);
        client().patch(location, other);
        assertThat(client().put(location + "?digest=" + otherDigest, new byte[0]).status()).isEqualTo(201);
        assertBlob(repo, otherDigest, other);

        Response declared = client().post("/v2/" + repo + "/blobs/uploads/?digest-algorithm=sha512", new byte[0]);
        assertThat(declared.status()).isEqualTo(202);
        byte[] third = TestImages.randomBytes(10);
        client().patch(declared.header("Location"), third);
        Digest thirdDigest = Digest.compute(DigestAlgorithm.SHA512, third);
        assertThat(client().put(declared.header("Location") + "?digest=" + thirdDigest, new byte[0]).status()).isEqualTo(201);

        Response unknown = client().post("/v2/" + repo + "/blobs/uploads/?digest-algorithm=md5", new byte[0]);
        assertThat(unknown.status()).isEqualTo(400);
        assertThat(unknown.errorCode()).isEqualTo("DIGEST_INVALID");
    }

    @Test
    void mountsFromAnotherRepository() {
        String source = TestBerth.newRepository("src");
        String target = TestBerth.newRepository("dst");
        byte[] content = TestImages.randomBytes(512);
        Digest digest = client().pushBlob(source, content);
        Response r = client().post("/v2/" + target + "/blobs/uploads/?mount=" + digest + "&from=" + source, new byte[0]);
        assertThat(r.status()).isEqualTo(201);
        assertThat(r.header("Location")).isEqualTo("/v2/" + target + "/blobs/" + digest);
        assertThat(r.header("Docker-Content-Digest")).isEqualTo(digest.toString());
        assertBlob(target, digest, content);
    }

    @Test
    void mountsWithoutFromWhenSomeRepositoryHoldsTheBlob() {
        String source = TestBerth.newRepository("src");
        String target = TestBerth.newRepository("dst");
        Digest digest = client().pushBlob(source, TestImages.randomBytes(512));
        Response r = client().post("/v2/" + target + "/blobs/uploads/?mount=" + digest, new byte[0]);
        assertThat(r.status()).isEqualTo(201);
        assertThat(client().head("/v2/" + target + "/blobs/" + digest).status()).isEqualTo(200);
    }

    @Test
    void aMountThatCannotHappenStartsASession() {
        String source = TestBerth.newRepository("src");
        String target = TestBerth.newRepository("dst");
        Digest elsewhere = client().pushBlob(TestBerth.newRepository("third"), TestImages.randomBytes(512));
        Digest unknown = TestImages.sha256(TestImages.randomBytes(512));
        for (Digest digest : new Digest[] {elsewhere, unknown}) {
            Response r = client().post("/v2/" + target + "/blobs/uploads/?mount=" + digest + "&from=" + source, new byte[0]);
            assertThat(r.status()).isEqualTo(202);
            assertThat(r.header("Location")).startsWith("/v2/" + target + "/blobs/uploads/");
        }
        assertThat(client().head("/v2/" + target + "/blobs/" + elsewhere).status()).isEqualTo(404);
    }
}
