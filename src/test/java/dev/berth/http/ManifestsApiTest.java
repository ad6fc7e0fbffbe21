package dev.berth.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.berth.oci.Digest;
import dev.berth.oci.DigestAlgorithm;
import dev.berth.oci.MediaTypes;
import dev.berth.testing.RegistryClient;
import dev.berth.testing.RegistryClient.Response;
import dev.berth.testing.TestBerth;
import dev.berth.testing.TestImages;
import dev.berth.testing.TestImages.Image;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class ManifestsApiTest {
    @RegisterExtension
    static final TestBerth BERTH = new TestBerth();

    private RegistryClient client() {
        return BERTH.client();
    }

    private static String manifests(String repo, Object reference) {
        return "/v2/" + repo + "/manifests/" + reference;
    }

    @Test
    void pushAndPullByTagAndDigest() {
        String repo = TestBerth.newRepository("m");
        Image image = TestImages.image(2, 1000);
        for (byte[] blob : image.blobs()) {
            client().pushBlob(repo, blob);
        }
        Response put = client().put(manifests(repo, "v1"), image.manifest(), "Content-Type", MediaTypes.OCI_MANIFEST);
        assertThat(put.status()).isEqualTo(201);
        assertThat(put.header("Docker-Content-Digest")).isEqualTo(image.digest().toString());
        assertThat(put.header("Location")).isEqualTo(manifests(repo, image.digest()));
        for (String reference : new String[] {"v1", image.digest().toString()}) {
            Response get = client().get(manifests(repo, reference), "Accept", MediaTypes.OCI_MANIFEST);
            assertThat(get.status()).isEqualTo(200);
            assertThat(get.body()).isEqualTo(image.manifest());
            assertThat(get.header("Content-Type")).isEqualTo(MediaTypes.OCI_MANIFEST);
            assertThat(get.header("Content-Length")).isEqualTo(Integer.toString(image.manifest().length));
            assertThat(get.header("Docker-Content-Digest")).isEqualTo(image.digest().toString());
            Response head = client().head(manifests(repo, reference));
            assertThat(head.status()).isEqualTo(200);
            assertThat(head.body()).isEmpty();
            for (String h : new String[] {"Content-Type", "Content-Length", "Docker-Content-Digest", "ETag"}) {
                assertThat(head.header(h)).as(h).isEqualTo(get.header(h));
            }
        }
        assertThat(client().get(manifests(repo, "v1")).header("Content-Type"))
                .as("no Accept header: the stored type").isEqualTo(MediaTypes.OCI_MANIFEST);
    }

    @Test
    void conditionalGet() {
        String repo = TestBerth.newRepository("m");
        Image image = TestImages.image(1, 10);
        client().push(repo, "v1", image);
        Response r = client().get(manifests(repo, "v1"), "If-None-Match", "\"" + image.digest() + "\"");
        assertThat(r.status()).isEqualTo(304);
        assertThat(r.body()).isEmpty();
    }

    @Test
    void bytesAreKeptExactlyAsPushed() {
        String repo = TestBerth.newRepository("m");
        Image image = TestImages.image(1, 10);
        for (byte[] blob : image.blobs()) {
            client().pushBlob(repo, blob);
        }
        byte[] pretty = ("\n  " + new String(image.manifest(), StandardCharsets.UTF_8).replace(",", ",\n    ") + "\n")
                .getBytes(StandardCharsets.UTF_8);
        Digest digest = client().pushManifest(repo, "pretty", MediaTypes.OCI_MANIFEST, pretty);
        assertThat(digest).isEqualTo(TestImages.sha256(pretty));
        assertThat(client().get(manifests(repo, "pretty")).body()).isEqualTo(pretty);
    }

    @Test
    void pushByDigestWithTagParameters() {
        String repo = TestBerth.newRepository("m");
        Image image = TestImages.image(1, 10);
        for (byte[] blob : image.blobs()) {
            client().pushBlob(repo, blob);
        }
        Response put = client().put(manifests(repo, image.digest()) + "?tag=1.0&tag=1&tag=latest", image.manifest(),
                "Content-Type", MediaTypes.OCI_MANIFEST);
        assertThat(put.status()).isEqualTo(201);
        assertThat(put.headers("OCI-Tag")).containsExactly("1.0", "1", "latest");
        assertThat(client().get("/v2/" + repo + "/tags/list").json().path("tags").toString())
                .isEqualTo("[\"1\",\"1.0\",\"latest\"]");
        Response badTag = client().put(manifests(repo, image.digest()) + "?tag=ok&tag=-bad", image.manifest(),
                "Content-Type", MediaTypes.OCI_MANIFEST);
        assertThat(badTag.status()).isEqualTo(400);
        assertThat(client().get(manifests(repo, "ok")).status()).as("all or nothing").isEqualTo(404);
        StringBuilder many = new StringBuilder("?tag=t0");
        for (int i = 1; i <= 50; i++) {
            many.append("&tag=t").append(i);
        }
        assertThat(client().put(manifests(repo, image.digest()) + many, image.manifest(),
                "Content-Type", MediaTypes.OCI_MANIFEST).status()).isEqualTo(414);
    }

    @Test
    void aDigestReferenceMustMatchTheContent() {
        String repo = TestBerth.newRepository("m");
        Image image = TestImages.image(1, 10);
        for (byte[] blob : image.blobs()) {
            client().pushBlob(repo, blob);
        }
        Digest other = TestImages.sha256(new byte[] {1});
        Response r = client().put(manifests(repo, other), image.manifest(), "Content-Type", MediaTypes.OCI_MANIFEST);
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.errorCode()).isEqualTo("DIGEST_INVALID");
        assertThat(client().put(manifests(repo, "sha256:baddigeststring"), image.manifest(),
                "Content-Type", MediaTypes.OCI_MANIFEST).status()).isEqualTo(400);
        Response malformed = client().get(manifests(repo, "sha256:baddigeststring"));
        assertThat(malformed.status()).as("the spec lists only 404 for a GET").isEqualTo(404);
        assertThat(malformed.errorCode()).isEqualTo("MANIFEST_UNKNOWN");
        for (String reference : List.of(".INVALID_MANIFEST_NAME", "-x", "sha256:zz")) {
            assertThat(client().head(manifests(repo, reference)).status()).as(reference).isEqualTo(404);
            assertThat(client().get(manifests(repo, reference)).errorCode()).as(reference).isEqualTo("MANIFEST_UNKNOWN");
            assertThat(client().delete(manifests(repo, reference)).status()).as(reference).isEqualTo(404);
        }
        assertThat(client().get(manifests(repo, image.digest())).status()).isEqualTo(404);
    }

    @Test
    void sha512Manifests() {
        String repo = TestBerth.newRepository("m");
        Image image = TestImages.image(1, 10);
        for (byte[] blob : image.blobs()) {
            client().pushBlob(repo, blob);
        }
        Digest digest = Digest.compute(DigestAlgorithm.SHA512, image.manifest());
        Response put = client().put(manifests(repo, digest) + "?tag=five12", image.manifest(),
                "Content-Type", MediaTypes.OCI_MANIFEST);
        assertThat(put.status()).isEqualTo(201);
        assertThat(put.header("Docker-Content-Digest")).isEqualTo(digest.toString());
        for (String ref : new String[] {digest.toString(), "five12"}) {
            Response get = client().get(manifests(repo, ref));
            assertThat(get.header("Docker-Content-Digest")).isEqualTo(digest.toString());
            assertThat(get.body()).isEqualTo(image.manifest());
        }
    }

    @Test
    void refusesManifestsWhoseBlobsAreMissing() {
        String repo = TestBerth.newRepository("m");
        Image image = TestImages.image(2, 10);
        client().pushBlob(repo, image.blobs().get(0));
        Response r = client().put(manifests(repo, "v1"), image.manifest(), "Content-Type", MediaTypes.OCI_MANIFEST);
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.errorCode()).isEqualTo("MANIFEST_BLOB_UNKNOWN");
        assertThat(client().get(manifests(repo, "v1")).status()).isEqualTo(404);
        assertThat(client().get(manifests(repo, image.digest())).status()).isEqualTo(404);
    }

    @Test
    void acceptsMissingNonDistributableLayers() {
        String repo = TestBerth.newRepository("m");
        byte[] config = "{\"architecture\":\"amd64\",\"os\":\"windows\"}".getBytes(StandardCharsets.UTF_8);
        client().pushBlob(repo, config);
        ObjectNode foreign = TestImages.descriptor("application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
                TestImages.randomBytes(100));
        foreign.putArray("urls").add("https://example.com/layer");
        String manifest = "{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\",\"config\":"
                + TestImages.descriptor(TestImages.CONFIG_TYPE, config) + ",\"layers\":[" + foreign + "]}";
        assertThat(client().put(manifests(repo, "win"), manifest.getBytes(StandardCharsets.UTF_8),
                "Content-Type", MediaTypes.OCI_MANIFEST).status()).isEqualTo(201);
    }

    @Test
    void refusesInvalidManifests() {
        String repo = TestBerth.newRepository("m");
        Response notJson = client().put(manifests(repo, "x"), "nope".getBytes(StandardCharsets.UTF_8),
                "Content-Type", MediaTypes.OCI_MANIFEST);
        assertThat(notJson.status()).isEqualTo(400);
        assertThat(notJson.errorCode()).isEqualTo("MANIFEST_INVALID");
        Response schema1 = client().put(manifests(repo, "x"),
                "{\"schemaVersion\":1,\"name\":\"x\",\"tag\":\"x\",\"fsLayers\":[]}".getBytes(StandardCharsets.UTF_8),
                "Content-Type", MediaTypes.DOCKER_SCHEMA1_SIGNED);
        assertThat(schema1.status()).isEqualTo(400);
        assertThat(schema1.json().path("errors").path(0).path("message").asText()).contains("schema 1");
        Response badTag = client().put(manifests(repo, "-x"), "{}".getBytes(StandardCharsets.UTF_8));
        assertThat(badTag.status()).isEqualTo(400);
        assertThat(badTag.errorCode()).isEqualTo("TAG_INVALID");
    }

    @Test
    void acceptsManifestsUpTo4MiBAndRefusesLarger() {
        String repo = TestBerth.newRepository("m");
        Image small = TestImages.image(1, 10);
        for (byte[] blob : small.blobs()) {
            client().pushBlob(repo, blob);
        }
        String base = new String(small.manifest(), StandardCharsets.UTF_8);
        String padding = "x".repeat(4 * 1024 * 1024 - base.length() - 40);
        byte[] big = (base.substring(0, base.length() - 1) + ",\"annotations\":{\"pad\":\"" + padding + "\"}}")
                .getBytes(StandardCharsets.UTF_8);
        assertThat(big.length).isLessThanOrEqualTo(4 * 1024 * 1024);
        assertThat(client().put(manifests(repo, "big"), big, "Content-Type", MediaTypes.OCI_MANIFEST).status()).isEqualTo(201);
        assertThat(client().get(manifests(repo, "big")).body()).isEqualTo(big);
        byte[] tooBig = (base.substring(0, base.length() - 1) + ",\"annotations\":{\"pad\":\"" + padding + "x".repeat(100)
                + "\"}}").getBytes(StandardCharsets.UTF_8);
        Response r = client().put(manifests(repo, "toobig"), tooBig, "Content-Type", MediaTypes.OCI_MANIFEST);
        assertThat(r.status()).isEqualTo(413);
        assertThat(client().get(manifests(repo, "toobig")).status()).isEqualTo(404);
    }

    @Test
    void indexesAndTheirChildren() {
        String repo = TestBerth.newRepository("m");
        Image amd = TestImages.image(1, 100, MediaTypes.OCI_MANIFEST, "amd64", null, null, Map.of());
        Image arm = TestImages.image(1, 100, MediaTypes.OCI_MANIFEST, "arm64", null, null, Map.of());
        Image index = TestImages.index(MediaTypes.OCI_INDEX, List.of(amd, arm), List.of("amd64", "arm64"));
        client().push(repo, amd.digest().toString(), amd);
        Response early = client().put(manifests(repo, "multi"), index.manifest(), "Content-Type", MediaTypes.OCI_INDEX);
        assertThat(early.status()).isEqualTo(400);
        assertThat(early.errorCode()).isEqualTo("MANIFEST_BLOB_UNKNOWN");
        client().push(repo, arm.digest().toString(), arm);
        assertThat(client().pushManifest(repo, "multi", MediaTypes.OCI_INDEX, index.manifest())).isEqualTo(index.digest());
        Response get = client().get(manifests(repo, "multi"));
        assertThat(get.header("Content-Type")).isEqualTo(MediaTypes.OCI_INDEX);
        assertThat(get.body()).isEqualTo(index.manifest());
        Response child = client().delete(manifests(repo, amd.digest()));
        assertThat(child.status()).isEqualTo(409);
        assertThat(child.json().path("errors").path(0).path("message").asText()).contains(index.digest().toString());
        assertThat(client().delete(manifests(repo, index.digest())).status()).isEqualTo(202);
        assertThat(client().delete(manifests(repo, amd.digest())).status()).isEqualTo(202);
    }

    @Test
    void dockerSchema2AndManifestLists() {
        String repo = TestBerth.newRepository("m");
        Image amd = TestImages.image(1, 100, MediaTypes.DOCKER_MANIFEST, "amd64", null, null, Map.of());
        Image list = TestImages.index(MediaTypes.DOCKER_MANIFEST_LIST, List.of(amd), List.of("amd64"));
        client().push(repo, amd.digest().toString(), amd);
        client().pushManifest(repo, "latest", MediaTypes.DOCKER_MANIFEST_LIST, list.manifest());
        Response get = client().get(manifests(repo, "latest"), "Accept", MediaTypes.DOCKER_MANIFEST_LIST);
        assertThat(get.header("Content-Type")).isEqualTo(MediaTypes.DOCKER_MANIFEST_LIST);
        assertThat(get.header("Docker-Content-Digest")).isEqualTo(list.digest().toString());
        assertThat(client().get(manifests(repo, amd.digest())).header("Content-Type")).isEqualTo(MediaTypes.DOCKER_MANIFEST);
    }

    @Test
    void subjectsAreAnnouncedAndListed() {
        String repo = TestBerth.newRepository("m");
        Image subject = TestImages.image(1, 10);
        client().push(repo, "v1", subject);
        Image sbom = TestImages.image(1, 10, MediaTypes.OCI_MANIFEST, "amd64", "application/spdx+json",
                subject.descriptor(), Map.of("org.example.kind", "sbom"));
        for (byte[] blob : sbom.blobs()) {
            client().pushBlob(repo, blob);
        }
        Response put = client().put(manifests(repo, sbom.digest()), sbom.manifest(), "Content-Type", MediaTypes.OCI_MANIFEST);
        assertThat(put.status()).isEqualTo(201);
        assertThat(put.header("OCI-Subject")).isEqualTo(subject.digest().toString());
        Response referrers = client().get("/v2/" + repo + "/referrers/" + subject.digest());
        assertThat(referrers.json().path("manifests").path(0).path("digest").asText()).isEqualTo(sbom.digest().toString());
        assertThat(referrers.json().path("manifests").path(0).path("annotations").path("org.example.kind").asText())
                .isEqualTo("sbom");
    }

    @Test
    void aManifestMayReferToASubjectNotYetPushed() {
        String repo = TestBerth.newRepository("m");
        Digest missing = TestImages.sha256("missing".getBytes(StandardCharsets.UTF_8));
        Image sig = TestImages.image(1, 10, MediaTypes.OCI_MANIFEST, "amd64", "application/vnd.example.sig",
                new TestImages.Descriptor(MediaTypes.OCI_MANIFEST, missing, 123), Map.of());
        for (byte[] blob : sig.blobs()) {
            client().pushBlob(repo, blob);
        }
        Response put = client().put(manifests(repo, "sig"), sig.manifest(), "Content-Type", MediaTypes.OCI_MANIFEST);
        assertThat(put.status()).isEqualTo(201);
        assertThat(put.header("OCI-Subject")).isEqualTo(missing.toString());
    }

    @Test
    void deletesTagsAndManifests() {
        String repo = TestBerth.newRepository("m");
        Image image = TestImages.image(1, 10);
        client().push(repo, "a", image);
        client().pushManifest(repo, "b", image.mediaType(), image.manifest());
        assertThat(client().delete(manifests(repo, "a")).status()).isEqualTo(202);
        assertThat(client().get(manifests(repo, "a")).status()).isEqualTo(404);
        assertThat(client().get(manifests(repo, "b")).status()).isEqualTo(200);
        assertThat(client().delete(manifests(repo, "a")).status()).isEqualTo(404);
        assertThat(client().delete(manifests(repo, image.digest())).status()).isEqualTo(202);
        assertThat(client().head(manifests(repo, "b")).status()).isEqualTo(404);
        Response gone = client().get(manifests(repo, image.digest()));
        assertThat(gone.status()).isEqualTo(404);
        assertThat(gone.errorCode()).isEqualTo("MANIFEST_UNKNOWN");
        assertThat(client().delete(manifests(repo, image.digest())).status()).isEqualTo(404);
    }

    @Test
    void movingATagKeepsTheOldManifestByDigest() {
        String repo = TestBerth.newRepository("m");
        Image one = TestImages.image(1, 10);
        Image two = TestImages.image(1, 10);
        client().push(repo, "latest", one);
        client().push(repo, "latest", two);
        assertThat(client().get(manifests(repo, "latest")).body()).isEqualTo(two.manifest());
        assertThat(client().get(manifests(repo, one.digest())).status()).isEqualTo(200);
    }

    @Test
    void unknownManifests() {
        String repo = TestBerth.newRepository("m");
        assertThat(client().get(manifests(repo, "latest")).errorCode()).isEqualTo("NAME_UNKNOWN");
        client().push(repo, "v1", TestImages.image(1, 10));
        Response r = client().get(manifests(repo, "v2"));
        assertThat(r.status()).isEqualTo(404);
        assertThat(r.errorCode()).isEqualTo("MANIFEST_UNKNOWN");
        assertThat(client().head(manifests(repo, TestImages.sha256(new byte[3]))).status()).isEqualTo(404);
    }
}
