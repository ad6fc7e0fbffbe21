package dev.berth.clients;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.berth.oci.MediaTypes;
import dev.berth.testing.Command;
import dev.berth.testing.RegistryClient.Response;
import dev.berth.testing.TestBerth;
import dev.berth.testing.TestImages;
import dev.berth.testing.TestImages.Image;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** skopeo, a real client, against a real Berth: push, inspect, list, copy (mount), pull, delete, multi-arch. */
class SkopeoTest {
    @RegisterExtension
    static final TestBerth BERTH = new TestBerth();
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path work;

    @BeforeEach
    void needsSkopeo() {
        Command.assumeInstalled("skopeo");
    }

    private String skopeo(String... args) {
        List<String> command = new ArrayList<>(List.of("skopeo", "--insecure-policy"));
        command.addAll(List.of(args));
        // A private HOME keeps any auth file of the machine out of the test.
        return Command.ok(work, Map.of("HOME", work.toString()), command);
    }

    private String ref(String repoAndTag) {
        return "docker://" + BERTH.hostPort() + "/" + repoAndTag;
    }

    @Test
    void pushInspectListCopyPullAndDelete() throws Exception {
        String repo = TestBerth.newRepository("skopeo");
        String copy = TestBerth.newRepository("skopeo-copy");
        Image image = TestImages.image(3, 200_000);
        Path layout = work.resolve("in");
        TestImages.writeLayout(layout, "v1", image, List.of());

        skopeo("copy", "--dest-tls-verify=false", "oci:" + layout + ":v1", ref(repo + ":v1"));
        JsonNode inspect = JSON.readTree(skopeo("inspect", "--tls-verify=false", ref(repo + ":v1")));
        assertThat(inspect.path("Digest").asText()).isEqualTo(image.digest().toString());
        assertThat(inspect.path("Layers")).hasSize(3);
        JsonNode tags = JSON.readTree(skopeo("list-tags", "--tls-verify=false", "docker://" + BERTH.hostPort() + "/" + repo));
        assertThat(tags.path("Tags").toString()).isEqualTo("[\"v1\"]");

        // Within one registry skopeo mounts the blobs instead of uploading them again.
        String output = skopeo("copy", "--src-tls-verify=false", "--dest-tls-verify=false", ref(repo + ":v1"), ref(copy + ":v1"));
        assertThat(output).contains("Copying blob");
        assertThat(JSON.readTree(skopeo("inspect", "--tls-verify=false", ref(copy + ":v1"))).path("Digest").asText())
                .isEqualTo(image.digest().toString());

        Path out = work.resolve("out");
        skopeo("copy", "--src-tls-verify=false", ref(copy + ":v1"), "oci:" + out + ":v1");
        assertThat(Files.readAllBytes(out.resolve("blobs/sha256/" + image.digest().hex()))).isEqualTo(image.manifest());
        for (byte[] blob : image.blobs()) {
            assertThat(Files.readAllBytes(out.resolve("blobs/sha256/" + TestImages.sha256(blob).hex()))).isEqualTo(blob);
        }

        skopeo("delete", "--tls-verify=false", ref(repo + ":v1"));
        assertThat(BERTH.client().get("/v2/" + repo + "/manifests/v1").status()).isEqualTo(404);
        assertThat(BERTH.client().get("/v2/" + copy + "/manifests/v1").status()).isEqualTo(200);
    }

    @Test
    void multiArchIndexRoundTrips() throws Exception {
        String repo = TestBerth.newRepository("skopeo-multi");
        Image amd = TestImages.image(2, 50_000, MediaTypes.OCI_MANIFEST, "amd64", null, null, Map.of());
        Image arm = TestImages.image(2, 50_000, MediaTypes.OCI_MANIFEST, "arm64", null, null, Map.of());
        Image index = TestImages.index(MediaTypes.OCI_INDEX, List.of(amd, arm), List.of("amd64", "arm64"));
        Path layout = work.resolve("multi");
        TestImages.writeLayout(layout, "multi", index, List.of(amd, arm));

        skopeo("copy", "--all", "--dest-tls-verify=false", "oci:" + layout + ":multi", ref(repo + ":multi"));
        Response get = BERTH.client().get("/v2/" + repo + "/manifests/multi");
        assertThat(get.header("Content-Type")).isEqualTo(MediaTypes.OCI_INDEX);
        assertThat(get.body()).isEqualTo(index.manifest());

        Path out = work.resolve("multi-out");
        skopeo("copy", "--all", "--src-tls-verify=false", ref(repo + ":multi"), "oci:" + out + ":multi");
        for (Image image : List.of(index, amd, arm)) {
            assertThat(Files.readAllBytes(out.resolve("blobs/sha256/" + image.digest().hex()))).isEqualTo(image.manifest());
        }
        JsonNode raw = JSON.readTree(skopeo("inspect", "--raw", "--tls-verify=false", ref(repo + ":multi")));
        assertThat(raw.path("manifests")).hasSize(2);
    }

    @Test
    void dockerSchema2() throws Exception {
        String repo = TestBerth.newRepository("skopeo-docker");
        Image image = TestImages.image(1, 10_000);
        Path layout = work.resolve("docker");
        TestImages.writeLayout(layout, "v1", image, List.of());
        skopeo("copy", "--format", "v2s2", "--dest-tls-verify=false", "oci:" + layout + ":v1", ref(repo + ":v1"));
        Response get = BERTH.client().get("/v2/" + repo + "/manifests/v1");
        assertThat(get.header("Content-Type")).isEqualTo(MediaTypes.DOCKER_MANIFEST);
        assertThat(TestImages.sha256(get.body()).toString()).isEqualTo(get.header("Docker-Content-Digest"));
        Path out = work.resolve("docker-out");
        skopeo("copy", "--src-tls-verify=false", ref(repo + ":v1"), "dir:" + out);
        assertThat(Files.readAllBytes(out.resolve("manifest.json"))).isEqualTo(get.body());
    }
}
