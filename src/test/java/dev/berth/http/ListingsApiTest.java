package dev.berth.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.berth.oci.MediaTypes;
import dev.berth.testing.RegistryClient;
import dev.berth.testing.RegistryClient.Response;
import dev.berth.testing.TestBerth;
import dev.berth.testing.TestImages;
import dev.berth.testing.TestImages.Image;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class ListingsApiTest {
    @RegisterExtension
    static final TestBerth BERTH = new TestBerth();

    private RegistryClient client() {
        return BERTH.client();
    }

    private static List<String> strings(JsonNode array) {
        List<String> result = new ArrayList<>();
        array.forEach(n -> result.add(n.asText()));
        return result;
    }

    @Test
    void listsTagsInOrderWithPagination() {
        String repo = TestBerth.newRepository("tags");
        Image image = TestImages.image(1, 10);
        client().push(repo, "b", image);
        for (String tag : new String[] {"a", "C", "1", "c"}) {
            client().pushManifest(repo, tag, image.mediaType(), image.manifest());
        }
        Response all = client().get("/v2/" + repo + "/tags/list");
        assertThat(all.status()).isEqualTo(200);
        assertThat(all.json().path("name").asText()).isEqualTo(repo);
        assertThat(strings(all.json().path("tags"))).containsExactly("1", "C", "a", "b", "c");
        assertThat(all.header("Link")).isNull();

        Response first = client().get("/v2/" + repo + "/tags/list?n=2");
        assertThat(strings(first.json().path("tags"))).containsExactly("1", "C");
        assertThat(first.header("Link")).isEqualTo("</v2/" + repo + "/tags/list?n=2&last=C>; rel=\"next\"");
        Response second = client().get("/v2/" + repo + "/tags/list?n=2&last=C");
        assertThat(strings(second.json().path("tags"))).containsExactly("a", "b");
        Response third = client().get("/v2/" + repo + "/tags/list?n=2&last=b");
        assertThat(strings(third.json().path("tags"))).containsExactly("c");
        assertThat(third.header("Link")).isNull();
        assertThat(strings(client().get("/v2/" + repo + "/tags/list?last=b").json().path("tags"))).containsExactly("c");
        Response zero = client().get("/v2/" + repo + "/tags/list?n=0");
        assertThat(zero.status()).isEqualTo(200);
        assertThat(zero.json().path("tags").size()).isZero();
        assertThat(zero.header("Link")).isNull();
    }

    @Test
    void refusesBadPageSizesAndUnknownRepositories() {
        String repo = TestBerth.newRepository("tags");
        client().push(repo, "x", TestImages.image(1, 10));
        for (String n : new String[] {"-1", "abc", "1.5"}) {
            assertThat(client().get("/v2/" + repo + "/tags/list?n=" + n).status()).as(n).isEqualTo(400);
        }
        Response unknown = client().get("/v2/" + TestBerth.newRepository("none") + "/tags/list");
        assertThat(unknown.status()).isEqualTo(404);
        assertThat(unknown.errorCode()).isEqualTo("NAME_UNKNOWN");
    }

    @Test
    void aRepositoryWithBlobsButNoTagsListsNone() {
        String repo = TestBerth.newRepository("tags");
        client().pushBlob(repo, TestImages.randomBytes(5));
        Response r = client().get("/v2/" + repo + "/tags/list");
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.json().path("tags").size()).isZero();
    }

    @Test
    void catalogPages() {
        List<String> mine = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            String repo = TestBerth.newRepository("catalog");
            client().pushBlob(repo, TestImages.randomBytes(5));
            mine.add(repo);
        }
        List<String> all = strings(client().get("/v2/_catalog").json().path("repositories"));
        assertThat(all).containsAll(mine).isSorted();
        List<String> paged = new ArrayList<>();
        String next = "/v2/_catalog?n=2";
        int pages = 0;
        while (next != null) {
            Response page = client().get(next);
            assertThat(page.status()).isEqualTo(200);
            List<String> items = strings(page.json().path("repositories"));
            assertThat(items.size()).isLessThanOrEqualTo(2);
            paged.addAll(items);
            String link = page.header("Link");
            next = link == null ? null : link.substring(1, link.indexOf('>'));
            pages++;
        }
        assertThat(paged).isEqualTo(all);
        assertThat(pages).isGreaterThanOrEqualTo(2);
        Response zero = client().get("/v2/_catalog?n=0");
        assertThat(zero.json().path("repositories").size()).isZero();
        assertThat(zero.header("Link")).isNull();
    }

    @Test
    void referrersWithAndWithoutFilter() {
        String repo = TestBerth.newRepository("ref");
        Image subject = TestImages.image(1, 10);
        client().push(repo, "v1", subject);
        Image sbom = TestImages.image(1, 10, MediaTypes.OCI_MANIFEST, "amd64", "application/spdx+json",
                subject.descriptor(), Map.of("a", "1"));
        Image sig = TestImages.image(1, 10, MediaTypes.OCI_MANIFEST, "amd64", null, subject.descriptor(), Map.of());
        client().push(repo, sbom.digest().toString(), sbom);
        client().push(repo, sig.digest().toString(), sig);

        Response all = client().get("/v2/" + repo + "/referrers/" + subject.digest());
        assertThat(all.status()).isEqualTo(200);
        assertThat(all.header("Content-Type")).isEqualTo(MediaTypes.OCI_INDEX);
        assertThat(all.header("OCI-Filters-Applied")).isNull();
        JsonNode index = all.json();
        assertThat(index.path("schemaVersion").asInt()).isEqualTo(2);
        assertThat(index.path("mediaType").asText()).isEqualTo(MediaTypes.OCI_INDEX);
        assertThat(index.path("manifests")).hasSize(2);
        JsonNode sigEntry = index.path("manifests").path(1);
        assertThat(sigEntry.path("artifactType").asText()).as("config media type stands in").isEqualTo(TestImages.CONFIG_TYPE);
        assertThat(sigEntry.path("size").asLong()).isEqualTo(sig.manifest().length);

        Response filtered = client().get("/v2/" + repo + "/referrers/" + subject.digest() + "?artifactType=application/spdx%2Bjson");
        assertThat(filtered.header("OCI-Filters-Applied")).isEqualTo("artifactType");
        assertThat(filtered.json().path("manifests")).hasSize(1);
        assertThat(filtered.json().path("manifests").path(0).path("digest").asText()).isEqualTo(sbom.digest().toString());
        assertThat(filtered.json().path("manifests").path(0).path("annotations").path("a").asText()).isEqualTo("1");
    }

    @Test
    void referrersNeverAnswer404() {
        Response r = client().get("/v2/" + TestBerth.newRepository("none") + "/referrers/" + TestImages.sha256(new byte[1]));
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.json().path("manifests")).isEmpty();
        Response bad = client().get("/v2/x/referrers/sha256:nothex");
        assertThat(bad.status()).isEqualTo(400);
        assertThat(bad.errorCode()).isEqualTo("DIGEST_INVALID");
    }
}
