package dev.berth.clients;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.berth.config.SyncConfig;
import dev.berth.oci.MediaTypes;
import dev.berth.testing.Command;
import dev.berth.testing.Distribution;
import dev.berth.testing.FakeUpstream;
import dev.berth.testing.TestBerth;
import dev.berth.testing.TestImages;
import dev.berth.testing.TestImages.Image;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real clients pulling through Berth from real upstreams on loopback: Debian's {@code docker-registry} (CNCF
 * distribution) mirrored as {@code docker.io}, and a second Berth behind a wrapper that demands bearer tokens as
 * Docker Hub does, mirrored as {@code ghcr.io}. Each upstream holds a single-arch and a multi-arch image pushed
 * with skopeo. skopeo pulls through the prefixes; containerd pulls through one {@code _default/hosts.toml}.
 */
class PullThroughClientsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path work;

    private static Distribution distribution;
    private static TestBerth upstreamBerth;
    private static FakeUpstream tokenUpstream;
    private static TestBerth berth;

    // What the upstreams hold.
    private static final Image HELLO = TestImages.image(2, 300_000);
    private static final Image HUB_AMD = TestImages.image(1, 200_000, MediaTypes.OCI_MANIFEST, "amd64", null, null, Map.of());
    private static final Image HUB_ARM = TestImages.image(1, 200_000, MediaTypes.OCI_MANIFEST, "arm64", null, null, Map.of());
    private static final Image HUB_MULTI = TestImages.index(MediaTypes.OCI_INDEX, List.of(HUB_AMD, HUB_ARM),
            List.of("amd64", "arm64"));
    private static final Image TOOL = TestImages.image(2, 250_000);
    private static final Image GH_AMD = TestImages.image(1, 100_000, MediaTypes.OCI_MANIFEST, "amd64", null, null, Map.of());
    private static final Image GH_ARM = TestImages.image(1, 100_000, MediaTypes.OCI_MANIFEST, "arm64", null, null, Map.of());
    private static final Image GH_MULTI = TestImages.index(MediaTypes.OCI_INDEX, List.of(GH_AMD, GH_ARM),
            List.of("amd64", "arm64"));

    @BeforeAll
    static void startUpstreamsAndPushWithSkopeo() throws Exception {
        Command.assumeInstalled("skopeo");
        Command.assumeInstalled(Distribution.PROGRAM);
        distribution = Distribution.start(Files.createDirectories(work.resolve("distribution")));
        upstreamBerth = new TestBerth();
        upstreamBerth.beforeAll(null);
        tokenUpstream = new FakeUpstream(upstreamBerth.uri(), true);

        String hub = distribution.hostPort();
        push(HELLO, List.of(), hub + "/library/hello:1.0", "--format", "v2s2");
        push(HUB_MULTI, List.of(HUB_AMD, HUB_ARM), hub + "/library/multi:1.0", "--all");
        String gh = upstreamBerth.hostPort();
        push(TOOL, List.of(), gh + "/acme/tool:2.0");
        push(GH_MULTI, List.of(GH_AMD, GH_ARM), gh + "/acme/multi:2.0", "--all");

        berth = new TestBerth(c -> c.withSync(new SyncConfig(true, List.of(
                mirror(distribution.uri(), "docker.io", List.of("library/**")),
                mirror(tokenUpstream.uri(), "ghcr.io", List.of())))));
        berth.beforeAll(null);
    }

    private static SyncConfig.Upstream mirror(URI url, String destination, List<String> unprefixed) {
        return new SyncConfig.Upstream(List.of(url), true, null,
                List.of(new SyncConfig.Content("**", destination, false, null, null, false)), true, null, 2,
                Duration.ofMillis(100), Duration.ofMinutes(5), unprefixed, List.of(destination), Map.of());
    }

    @AfterAll
    static void stopAll() throws Exception {
        if (berth != null) {
            berth.afterAll(null);
        }
        if (tokenUpstream != null) {
            tokenUpstream.close();
        }
        if (upstreamBerth != null) {
            upstreamBerth.afterAll(null);
        }
        if (distribution != null) {
            distribution.close();
        }
    }

    private static void push(Image top, List<Image> children, String destination, String... options) throws Exception {
        Path layout = Files.createTempDirectory(work, "layout");
        TestImages.writeLayout(layout, "t", top, children);
        List<String> args = new ArrayList<>(List.of("copy", "--dest-tls-verify=false"));
        args.addAll(List.of(options));
        args.addAll(List.of("oci:" + layout + ":t", "docker://" + destination));
        skopeo(args.toArray(String[]::new));
    }

    private static String skopeo(String... args) {
        List<String> command = new ArrayList<>(List.of("skopeo", "--insecure-policy"));
        command.addAll(List.of(args));
        return Command.ok(work, Map.of("HOME", work.toString()), command);
    }

    private static String rawManifest(String hostPortRepoTag) {
        return skopeo("inspect", "--raw", "--tls-verify=false", "docker://" + hostPortRepoTag);
    }

    @Test
    void skopeoPullsThroughThePrefixesWithDigestsUnchanged() throws Exception {
        String b = berth.hostPort();
        // Docker v2 schema 2, as the upstream holds it, under Docker Hub's short name and its library/ name.
        String upstreamHello = rawManifest(distribution.hostPort() + "/library/hello:1.0");
        assertThat(JSON.readTree(upstreamHello).path("mediaType").asText()).isEqualTo(MediaTypes.DOCKER_MANIFEST);
        Path out = work.resolve("hello-out");
        skopeo("copy", "--src-tls-verify=false", "docker://" + b + "/docker.io/hello:1.0", "dir:" + out);
        assertThat(Files.readString(out.resolve("manifest.json"))).isEqualTo(upstreamHello);
        for (JsonNode layer : JSON.readTree(upstreamHello).path("layers")) {
            String hex = layer.path("digest").asText().substring("sha256:".length());
            assertThat(TestImages.sha256(Files.readAllBytes(out.resolve(hex))).toString())
                    .isEqualTo(layer.path("digest").asText());
        }
        assertThat(rawManifest(b + "/docker.io/library/hello:1.0")).isEqualTo(upstreamHello);

        // Multi-arch indexes from both upstreams, every platform, byte for byte.
        for (var c : List.of(new Object[] {"docker.io/library/multi:1.0", HUB_MULTI, List.of(HUB_AMD, HUB_ARM)},
                new Object[] {"ghcr.io/acme/multi:2.0", GH_MULTI, List.of(GH_AMD, GH_ARM)})) {
            Image index = (Image) c[1];
            @SuppressWarnings("unchecked")
            List<Image> children = (List<Image>) c[2];
            Path all = Files.createTempDirectory(work, "multi-out");
            skopeo("copy", "--all", "--src-tls-verify=false", "docker://" + b + "/" + c[0], "oci:" + all + ":t");
            for (Image image : List.of(index, children.get(0), children.get(1))) {
                assertThat(Files.readAllBytes(all.resolve("blobs/sha256/" + image.digest().hex())))
                        .as("%s %s", c[0], image.digest()).isEqualTo(image.manifest());
                for (byte[] blob : image.blobs()) {
                    assertThat(Files.readAllBytes(all.resolve("blobs/sha256/" + TestImages.sha256(blob).hex())))
                            .isEqualTo(blob);
                }
            }
        }

        // Through the token-demanding upstream: the token flow was followed.
        Path tool = work.resolve("tool-out");
        skopeo("copy", "--src-tls-verify=false", "docker://" + b + "/ghcr.io/acme/tool:2.0", "oci:" + tool + ":t");
        assertThat(Files.readAllBytes(tool.resolve("blobs/sha256/" + TOOL.digest().hex()))).isEqualTo(TOOL.manifest());
        assertThat(tokenUpstream.count("GET", "token")).isPositive();

        JsonNode catalog = berth.client().get("/v2/_catalog").json().path("repositories");
        assertThat(catalog.toString()).contains("\"docker.io/library/hello\"").doesNotContain("\"docker.io/hello\"")
                .contains("\"ghcr.io/acme/tool\"");
    }

    @Test
    void containerdPullsEveryMirrorThroughOneDefaultHostsFile() throws Exception {
        Command.assumeInstalled("containerd");
        Command.assumeInstalled("ctr");
        Assumptions.assumeTrue(Files.getAttribute(Path.of("/proc/self"), "unix:uid").equals(0),
                "containerd needs root to run; skipping");
        Path ctd = Files.createDirectories(work.resolve("ctd"));
        Path socket = ctd.resolve("c.sock");
        Files.writeString(ctd.resolve("config.toml"), String.join("\n",
                "version = 2",
                "root = \"" + ctd.resolve("root") + "\"",
                "state = \"" + ctd.resolve("state") + "\"",
                "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]",
                "[grpc]",
                "  address = \"" + socket + "\"",
                "[ttrpc]",
                "  address = \"" + ctd.resolve("t.sock") + "\"",
                "[debug]",
                "  address = \"" + ctd.resolve("d.sock") + "\"",
                ""));
        // One file for every registry: containerd adds ?ns=<registry> and Berth routes by it.
        Path hosts = Files.createDirectories(work.resolve("hosts/_default"));
        Files.writeString(hosts.resolve("hosts.toml"), "server = \"" + berth.uri() + "\"\n\n[host.\"" + berth.uri()
                + "\"]\n  capabilities = [\"pull\", \"resolve\"]\n");
        Process containerd = new ProcessBuilder("containerd", "--config", ctd.resolve("config.toml").toString())
                .redirectErrorStream(true).redirectOutput(ctd.resolve("containerd.log").toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!Files.exists(socket)) {
                assertThat(containerd.isAlive()).as(Files.readString(ctd.resolve("containerd.log"))).isTrue();
                assertThat(System.nanoTime()).as("containerd did not start").isLessThan(deadline);
                Thread.sleep(100);
            }
            Map<String, Image> pulls = Map.of("docker.io/library/multi:1.0", HUB_MULTI, "ghcr.io/acme/tool:2.0", TOOL);
            for (String ref : pulls.keySet()) {
                Command.ok(work, Map.of(), List.of("ctr", "--address", socket.toString(), "images", "pull",
                        "--snapshotter", "native", "--hosts-dir", work.resolve("hosts").toString(), ref));
            }
            String images = Command.ok(work, Map.of(), List.of("ctr", "--address", socket.toString(), "images", "ls"));
            pulls.forEach((ref, image) -> assertThat(images).containsPattern(ref + "\\s+\\S+\\s+" + image.digest()));
        } finally {
            containerd.destroy();
            containerd.waitFor(30, TimeUnit.SECONDS);
        }
        // Stored under each upstream's prefix, and the amd64 child came because containerd asked for it.
        assertThat(berth.client().get("/v2/docker.io/library/multi/manifests/" + HUB_AMD.digest()).status()).isEqualTo(200);
        assertThat(berth.client().get("/v2/ghcr.io/acme/tool/tags/list").json().path("tags").toString())
                .isEqualTo("[\"2.0\"]");
    }
}
