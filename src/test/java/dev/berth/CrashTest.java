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
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kills Berth with SIGKILL in the middle of 32 concurrent pushes and restarts it on the same data: everything
 * acknowledged with a 201 must be served intact, and nothing partial may ever be visible.
 */
class CrashTest {
    private static final int PUSHERS = 32;

    @TempDir
    Path root;

    /** What the registry acknowledged: blob bytes by digest, manifest bytes by repository and tag. */
    private final Map<Digest, byte[]> blobs = new ConcurrentHashMap<>();
    private final Map<String, Image> tags = new ConcurrentHashMap<>();

    @Test
    void acknowledgedPushesSurviveSigkill() throws Exception {
        BerthProcess first = BerthProcess.start(root);
        AtomicBoolean stop = new AtomicBoolean();
        CountDownLatch warmedUp = new CountDownLatch(PUSHERS);
        List<Thread> pushers = new ArrayList<>();
        for (int p = 0; p < PUSHERS; p++) {
            int pusher = p;
            pushers.add(Thread.ofVirtual().start(() -> push(first.client(), pusher, stop, warmedUp)));
        }
        warmedUp.await();
        Thread.sleep(1500);
        first.kill();
        stop.set(true);
        for (Thread t : pushers) {
            t.join();
        }
        assertThat(tags).as("pushes were acknowledged before the kill").hasSizeGreaterThan(PUSHERS);

        assertNoPartialBlobIsInPlace();
        try (BerthProcess second = BerthProcess.start(root)) {
            RegistryClient client = second.client();
            for (Map.Entry<Digest, byte[]> blob : blobs.entrySet()) {
                Response r = client.get("/v2/crash/blobs/" + blob.getKey());
                assertThat(r.status()).as("acknowledged blob %s", blob.getKey()).isEqualTo(200);
                assertThat(r.body()).isEqualTo(blob.getValue());
            }
            for (Map.Entry<String, Image> tag : tags.entrySet()) {
                Response r = client.get("/v2/crash/manifests/" + tag.getKey());
                assertThat(r.status()).as("acknowledged tag %s", tag.getKey()).isEqualTo(200);
                assertThat(r.body()).isEqualTo(tag.getValue().manifest());
                assertThat(r.header("Docker-Content-Digest")).isEqualTo(tag.getValue().digest().toString());
            }
            // Whatever else made it to disk is whole: every listed tag resolves and all its blobs verify.
            for (var tag : client.get("/v2/crash/tags/list").json().path("tags")) {
                Response manifest = client.get("/v2/crash/manifests/" + tag.asText());
                assertThat(manifest.status()).isEqualTo(200);
                assertThat(TestImages.sha256(manifest.body()).toString()).isEqualTo(manifest.header("Docker-Content-Digest"));
                for (var layer : new com.fasterxml.jackson.databind.ObjectMapper().readTree(manifest.body()).path("layers")) {
                    Response blob = client.get("/v2/crash/blobs/" + layer.path("digest").asText());
                    assertThat(blob.status()).isEqualTo(200);
                    assertThat(TestImages.sha256(blob.body()).toString()).isEqualTo(layer.path("digest").asText());
                }
            }
            // Pushing works as before.
            client.push("crash", "after-restart", TestImages.image(1, 1000));
            assertThat(second.terminate()).as("graceful stop on SIGTERM").isZero();
        }
    }

    private void push(RegistryClient client, int pusher, AtomicBoolean stop, CountDownLatch warmedUp) {
        boolean counted = false;
        for (int round = 0; !stop.get(); round++) {
            try {
                Image image = TestImages.image(2, 20_000 + pusher * 100);
                for (byte[] blob : image.blobs()) {
                    Digest digest = pushBlob(client, blob, round % 2 == 0);
                    blobs.put(digest, blob);
                }
                String tag = "p" + pusher + "-" + round;
                client.pushManifest("crash", tag, MediaTypes.OCI_MANIFEST, image.manifest());
                tags.put(tag, image);
                if (!counted) {
                    warmedUp.countDown();
                    counted = true;
                }
            } catch (AssertionError | UncheckedIOException | IllegalStateException killed) {
                return; // the server died under us; whatever was not acknowledged does not count
            }
        }
    }

    /** Alternates single-request uploads and chunked sessions. */
    private static Digest pushBlob(RegistryClient client, byte[] blob, boolean whole) {
        if (whole) {
            return client.pushBlob("crash", blob);
        }
        Response session = client.post("/v2/crash/blobs/uploads/", new byte[0]);
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

    /** Every file at a blob path hashes to its name: a crash never leaves a partial blob in place. */
    private void assertNoPartialBlobIsInPlace() throws IOException {
        try (Stream<Path> files = Files.walk(root.resolve("blobs/sha256"))) {
            for (Path file : files.filter(Files::isRegularFile).toList()) {
                assertThat(Digest.compute(DigestAlgorithm.SHA256, Files.readAllBytes(file)).hex())
                        .as("blob file %s", file).isEqualTo(file.getFileName().toString());
            }
        }
    }
}
