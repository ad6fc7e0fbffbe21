package dev.berth.clients;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.cloud.tools.jib.api.Containerizer;
import com.google.cloud.tools.jib.api.ImageReference;
import com.google.cloud.tools.jib.api.Jib;
import com.google.cloud.tools.jib.api.JibContainer;
import com.google.cloud.tools.jib.api.RegistryImage;
import com.google.cloud.tools.jib.api.TarImage;
import com.google.cloud.tools.jib.api.buildplan.AbsoluteUnixPath;
import com.google.cloud.tools.jib.api.buildplan.ImageFormat;
import dev.berth.testing.RegistryClient.Response;
import dev.berth.testing.TestBerth;
import dev.berth.testing.TestImages;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** Jib (jib-core, in process) builds an image, pushes it to Berth, then pulls it back as a base image. */
class JibTest {
    @RegisterExtension
    static final TestBerth BERTH = new TestBerth();

    @TempDir
    Path work;

    @BeforeAll
    static void quietJib() {
        Logger.getLogger("com.google.cloud.tools.jib").setLevel(Level.WARNING);
    }

    private Containerizer containerizer(Containerizer containerizer, String cache) {
        return containerizer.setAllowInsecureRegistries(true)
                .setBaseImageLayersCache(work.resolve(cache + "-base"))
                .setApplicationLayersCache(work.resolve(cache + "-app"));
    }

    @Test
    void buildsPushesAndPullsAnImage() throws Exception {
        String repo = TestBerth.newRepository("jib");
        Path app = Files.createDirectories(work.resolve("app"));
        byte[] payload = TestImages.randomBytes(300_000);
        Files.write(app.resolve("payload.bin"), payload);
        Files.writeString(app.resolve("hello.sh"), "#!/bin/sh\necho hello\n");

        ImageReference target = ImageReference.parse(BERTH.hostPort() + "/" + repo + ":v1");
        for (ImageFormat format : List.of(ImageFormat.OCI, ImageFormat.Docker)) {
            JibContainer pushed = Jib.fromScratch()
                    .setFormat(format)
                    .addLayer(List.of(app.resolve("payload.bin"), app.resolve("hello.sh")), AbsoluteUnixPath.get("/app"))
                    .setEntrypoint("/app/hello.sh")
                    .containerize(containerizer(Containerizer.to(RegistryImage.named(target)), "push-" + format));
            Response manifest = BERTH.client().get("/v2/" + repo + "/manifests/v1");
            assertThat(manifest.status()).isEqualTo(200);
            assertThat(manifest.header("Docker-Content-Digest")).isEqualTo(pushed.getDigest().toString());
        }

        // Pull: building on the pushed image downloads its layers from Berth.
        Path tar = work.resolve("pulled.tar");
        JibContainer pulled = Jib.from(RegistryImage.named(target))
                .containerize(containerizer(Containerizer.to(TarImage.at(tar).named("pulled")), "pull"));
        assertThat(pulled.getImageId()).isNotNull();
        assertThat(Files.size(tar)).isGreaterThan(300_000);
        assertThat(containsSequence(tar, payload)).as("the layer came back intact").isTrue();
    }

    /** Whether the (uncompressed) image tarball holds {@code needle}, inside its gzipped layer. */
    private static boolean containsSequence(Path imageTar, byte[] needle) throws Exception {
        try (InputStream in = Files.newInputStream(imageTar)) {
            byte[] outer = in.readAllBytes();
            // Layers are gzipped inside the tarball: find each gzip member and search its content.
            for (int i = 0; i + 1 < outer.length; i++) {
                if ((outer[i] & 0xff) == 0x1f && (outer[i + 1] & 0xff) == 0x8b) {
                    try (InputStream gz = new java.util.zip.GZIPInputStream(new java.io.ByteArrayInputStream(outer, i, outer.length - i))) {
                        byte[] inner = gz.readAllBytes();
                        if (indexOf(inner, needle) >= 0) {
                            return true;
                        }
                    } catch (java.io.IOException notAGzipMember) {
                        // keep looking
                    }
                }
            }
        }
        return false;
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i <= haystack.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
