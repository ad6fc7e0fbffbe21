package dev.berth.clients;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.berth.Berth;
import dev.berth.cli.Main;
import dev.berth.config.BerthConfig;
import dev.berth.oci.MediaTypes;
import dev.berth.testing.Command;
import dev.berth.testing.RegistryClient;
import dev.berth.testing.TestImages;
import dev.berth.testing.TestImages.Image;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code berth import} of a zot data directory written by another tool: skopeo copies images into OCI layouts
 * under a zot-style root (as zot keeps them), Berth imports it, and every imported tag pulls byte for byte.
 */
class ZotImportTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private record Run(int code, String out, String err) {
    }

    @BeforeEach
    void needsSkopeo() {
        Command.assumeInstalled("skopeo");
    }

    private Run berth(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = new CommandLine(new Main());
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        return new Run(cli.execute(args), out.toString(), err.toString());
    }

    private void skopeoIntoZot(Path zot, Image top, List<Image> children, String repoAndTag, String... options)
            throws Exception {
        Path layout = Files.createTempDirectory(dir, "layout");
        TestImages.writeLayout(layout, "t", top, children);
        Files.createDirectories(zot.resolve(repoAndTag.split(":")[0]).getParent()); // skopeo makes only the last level
        List<String> command = new ArrayList<>(List.of("skopeo", "--insecure-policy", "copy"));
        command.addAll(List.of(options));
        command.addAll(List.of("oci:" + layout + ":t", "oci:" + zot.resolve(repoAndTag.split(":")[0]) + ":"
                + repoAndTag.split(":")[1]));
        Command.ok(dir, Map.of("HOME", dir.toString()), command);
    }

    @Test
    void everyRepositoryTagAndReferrerComesInAndAnInterruptedImportFinishesOnTheSecondRun() throws Exception {
        Path zot = Files.createDirectories(dir.resolve("zot"));
        Image v1 = TestImages.image(2, 40_000);
        Image v2 = TestImages.image(1, 40_000);
        skopeoIntoZot(zot, v1, List.of(), "team/app:v1");
        skopeoIntoZot(zot, v2, List.of(), "team/app:v2");
        Image amd = TestImages.image(1, 20_000, MediaTypes.OCI_MANIFEST, "amd64", null, null, Map.of());
        Image arm = TestImages.image(1, 20_000, MediaTypes.OCI_MANIFEST, "arm64", null, null, Map.of());
        Image index = TestImages.index(MediaTypes.OCI_INDEX, List.of(amd, arm), List.of("amd64", "arm64"));
        skopeoIntoZot(zot, index, List.of(amd, arm), "team/multi:1.0", "--all");
        skopeoIntoZot(zot, TestImages.image(1, 10_000), List.of(), "library/alpine:3.20", "--format", "v2s2");
        // A referrer, untagged in index.json as zot keeps it.
        Image signature = TestImages.image(1, 100, MediaTypes.OCI_MANIFEST, "amd64", "application/vnd.example.sig",
                v1.descriptor(), Map.of());
        Path app = zot.resolve("team/app");
        for (byte[] blob : signature.blobs()) {
            Files.write(app.resolve("blobs/sha256/" + TestImages.sha256(blob).hex()), blob);
        }
        Files.write(app.resolve("blobs/sha256/" + signature.digest().hex()), signature.manifest());
        ObjectNode appIndex = (ObjectNode) JSON.readTree(app.resolve("index.json").toFile());
        appIndex.withArray("manifests").addObject().put("mediaType", MediaTypes.OCI_MANIFEST)
                .put("digest", signature.digest().toString()).put("size", signature.manifest().length);
        JSON.writeValue(app.resolve("index.json").toFile(), appIndex);
        // zot's own bookkeeping, never a repository of its own.
        skopeoIntoZot(zot, TestImages.image(1, 100), List.of(), "team/app/.sync/0123:x");
        Files.createDirectories(zot.resolve("_sessions"));

        Path data = dir.resolve("berth");
        Path config = dir.resolve("config.json");
        Files.writeString(config, "{\"storage\":{\"rootDirectory\":\"" + data + "\"}}");
        Run first = berth("import", zot.toString(), "--config", config.toString());
        assertThat(first.code()).as(first.out() + first.err()).isZero();
        assertThat(first.out()).contains("team/app: 2 tags, 3 manifests").contains("team/multi: 1 tags, 3 manifests")
                .contains("library/alpine: 1 tags").contains("3 repositories imported").doesNotContain(".sync");

        Run again = berth("import", zot.toString(), "--config", config.toString());
        assertThat(again.code()).isZero();
        assertThat(again.out()).contains("team/app: 0 tags, 0 manifests, 0 blobs (0 bytes) imported");

        String alpineDigest = JSON.readTree(zot.resolve("library/alpine/index.json").toFile())
                .path("manifests").path(0).path("digest").asText();
        try (Berth berth = Berth.start(new BerthConfig(new BerthConfig.Storage(data),
                BerthConfig.defaults().http().withPort(0), BerthConfig.defaults().log()))) {
            RegistryClient client = new RegistryClient(berth.uri());
            for (var tag : Map.of("team/app:v1", v1, "team/app:v2", v2, "team/multi:1.0", index).entrySet()) {
                String[] parts = tag.getKey().split(":");
                assertThat(client.get("/v2/" + parts[0] + "/manifests/" + parts[1]).body()).as(tag.getKey())
                        .isEqualTo(tag.getValue().manifest());
            }
            for (Image image : List.of(v1, v2, amd, arm)) {
                String repo = image == amd || image == arm ? "team/multi" : "team/app";
                for (byte[] blob : image.blobs()) {
                    assertThat(client.get("/v2/" + repo + "/blobs/" + TestImages.sha256(blob)).body()).isEqualTo(blob);
                }
            }
            assertThat(client.get("/v2/library/alpine/manifests/3.20").header("Docker-Content-Digest"))
                    .as("Docker's format, digest unchanged").isEqualTo(alpineDigest);
            assertThat(client.get("/v2/team/app/referrers/" + v1.digest()).text()).contains(signature.digest().toString());
        }
    }

    @Test
    void aBlobThatDoesNotMatchItsDigestFailsItsRepositoryAndOnlyIt() throws Exception {
        Path zot = Files.createDirectories(dir.resolve("zot"));
        Image good = TestImages.image(1, 5_000);
        Image bad = TestImages.image(1, 5_000);
        skopeoIntoZot(zot, good, List.of(), "ok/app:v1");
        skopeoIntoZot(zot, bad, List.of(), "rotten/app:v1");
        Path layer = zot.resolve("rotten/app/blobs/sha256/" + TestImages.sha256(bad.blobs().get(0)).hex());
        byte[] rotten = Files.readAllBytes(layer);
        rotten[rotten.length / 2] ^= 1; // the declared size, other bytes
        Files.write(layer, rotten);
        Path config = dir.resolve("config.json");
        Files.writeString(config, "{\"storage\":{\"rootDirectory\":\"" + dir.resolve("berth") + "\"}}");
        Run run = berth("import", zot.toString(), "--config", config.toString());
        assertThat(run.code()).isEqualTo(1);
        assertThat(run.out()).contains("rotten/app: FAILED").contains("ok/app: 1 tags")
                .contains("1 repositories imported").contains("1 failed");
    }

    @Test
    void hostileLayoutsFailTheirRepositoryWithoutReadingForeverOrLeavingTheRoot() throws Exception {
        Path zot = Files.createDirectories(dir.resolve("zot"));
        Image good = TestImages.image(1, 5_000);
        skopeoIntoZot(zot, good, List.of(), "ok/app:v1");
        Image zero = TestImages.image(1, 5_000);
        skopeoIntoZot(zot, zero, List.of(), "bad/devzero:v1");
        Path manifest = zot.resolve("bad/devzero/blobs/sha256/" + zero.digest().hex());
        Files.delete(manifest);
        Files.createSymbolicLink(manifest, Path.of("/dev/zero"));
        Image piped = TestImages.image(1, 5_000);
        skopeoIntoZot(zot, piped, List.of(), "bad/fifo:v1");
        Path layer = zot.resolve("bad/fifo/blobs/sha256/" + TestImages.sha256(piped.blobs().get(0)).hex());
        Files.delete(layer);
        dev.berth.testing.Command.ok(dir, Map.of(), List.of("mkfifo", layer.toString()));
        Image big = TestImages.image(1, 5_000);
        skopeoIntoZot(zot, big, List.of(), "bad/sparse:v1");
        try (var file = java.nio.channels.FileChannel.open(
                zot.resolve("bad/sparse/blobs/sha256/" + TestImages.sha256(big.blobs().get(0)).hex()),
                java.nio.file.StandardOpenOption.WRITE)) {
            file.write(java.nio.ByteBuffer.wrap(new byte[] {1}), 1L << 40); // a terabyte, declared as 5 kB
        }
        Path outside = Files.createDirectories(dir.resolve("elsewhere"));
        skopeoIntoZot(outside, TestImages.image(1, 100), List.of(), "secret:v1");
        Files.createDirectories(zot.resolve("bad"));
        Files.createSymbolicLink(zot.resolve("bad/linked"), outside.resolve("secret"));

        Path config = dir.resolve("config.json");
        Files.writeString(config, "{\"storage\":{\"rootDirectory\":\"" + dir.resolve("berth") + "\"}}");
        Run run = berth("import", zot.toString(), "--config", config.toString());
        assertThat(run.code()).as(run.out() + run.err()).isEqualTo(1);
        assertThat(run.out()).contains("bad/devzero: FAILED").contains("not a plain file")
                .contains("bad/fifo: FAILED").contains("bad/sparse: FAILED").contains("where its descriptor says")
                .contains("ok/app: 1 tags").doesNotContain("bad/linked").contains("3 failed");
    }

    @Test
    void aTagPushedToBerthSinceKeepsItsImageWhenTheImportRunsAgain() throws Exception {
        Path zot = Files.createDirectories(dir.resolve("zot"));
        Image zots = TestImages.image(1, 5_000);
        skopeoIntoZot(zot, zots, List.of(), "team/app:v1");
        Path data = dir.resolve("berth");
        Path config = dir.resolve("config.json");
        Files.writeString(config, "{\"storage\":{\"rootDirectory\":\"" + data + "\"}}");
        assertThat(berth("import", zot.toString(), "--config", config.toString()).code()).isZero();
        Image newer = TestImages.image(1, 5_000);
        BerthConfig settings = new BerthConfig(new BerthConfig.Storage(data),
                BerthConfig.defaults().http().withPort(0), BerthConfig.defaults().log());
        try (Berth berth = Berth.start(settings)) {
            new RegistryClient(berth.uri()).push("team/app", "v1", newer);
        }
        Run again = berth("import", zot.toString(), "--config", config.toString());
        assertThat(again.code()).isZero();
        assertThat(again.out()).contains("tag v1 kept as it is in Berth (" + newer.digest() + ")");
        try (Berth berth = Berth.start(settings)) {
            assertThat(new RegistryClient(berth.uri()).get("/v2/team/app/manifests/v1").body())
                    .isEqualTo(newer.manifest());
        }
    }
}
