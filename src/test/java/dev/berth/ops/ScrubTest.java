package dev.berth.ops;

import static org.assertj.core.api.Assertions.assertThat;

import dev.berth.config.SyncConfig;
import dev.berth.oci.Digest;
import dev.berth.testing.LogCapture;
import dev.berth.testing.RegistryClient;
import dev.berth.testing.RegistryClient.Response;
import dev.berth.testing.Scrape;
import dev.berth.testing.TestBerth;
import dev.berth.testing.TestImages;
import dev.berth.testing.TestImages.Image;
import java.io.RandomAccessFile;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Scrub finds bytes that rotted on disk, stops serving them, and lets them be pushed or fetched again. */
class ScrubTest {
    @RegisterExtension
    static final TestBerth UPSTREAM = new TestBerth();

    @RegisterExtension
    static final TestBerth BERTH = new TestBerth(c -> c.withSync(new SyncConfig(true, List.of(
            new SyncConfig.Upstream(List.of(uri()), true, null,
                    List.of(new SyncConfig.Content("**", "mirror.example", false, null, null, false)), true, null, 0,
                    Duration.ofMillis(10), Duration.ofMinutes(5), List.of(), List.of(), Map.of())))));

    private static URI uri() {
        return UPSTREAM.uri();
    }

    private static Path file(Digest digest) {
        return BERTH.root().resolve("blobs/sha256/" + digest.hex().substring(0, 2) + "/" + digest.hex());
    }

    /** Flips one byte in the middle of a stored file, as a failing disk would. */
    private static void rot(Digest digest) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(file(digest).toFile(), "rw")) {
            long middle = f.length() / 2;
            f.seek(middle);
            int b = f.read();
            f.seek(middle);
            f.write(b ^ 0x40);
        }
    }

    @Test
    void aRottenLayerIsFoundSetAsideNeverServedAndCanBePushedAgain() throws Exception {
        RegistryClient client = BERTH.client();
        String repo = TestBerth.newRepository("scrub");
        Image image = TestImages.image(2, 30_000);
        client.push(repo, "v1", image);
        Digest layer = TestImages.sha256(image.blobs().get(0));
        rot(layer);

        try (LogCapture logs = new LogCapture()) {
            var report = BERTH.berth().scrub();
            assertThat(report.corrupt()).containsExactly(layer);
            assertThat(report.checked()).isGreaterThanOrEqualTo(image.blobs().size() + 1);
            assertThat(logs.errors()).anyMatch(m -> m.contains(layer.toString()) && m.contains(repo));
        }
        Response r = client.get("/v2/" + repo + "/blobs/" + layer);
        assertThat(r.status()).as("never served once found corrupt").isEqualTo(404);
        assertThat(r.errorCode()).isEqualTo("BLOB_UNKNOWN");
        try (Stream<Path> aside = Files.list(BERTH.root().resolve("quarantine"))) {
            assertThat(aside.map(p -> p.getFileName().toString())).anyMatch(n -> n.contains(layer.hex()));
        }
        assertThat(Scrape.of(client).sum("berth_scrub_last_corrupt_blobs")).isEqualTo(1);

        client.pushBlob(repo, image.blobs().get(0)); // what a client does once HEAD says the layer is missing
        assertThat(client.get("/v2/" + repo + "/blobs/" + layer).body()).isEqualTo(image.blobs().get(0));
        assertThat(BERTH.berth().scrub().corrupt()).isEmpty();
        assertThat(Scrape.of(client).sum("berth_scrub_last_corrupt_blobs")).isZero();
    }

    @Test
    void aRottenManifestSaysPushMeAgain() throws Exception {
        RegistryClient client = BERTH.client();
        String repo = TestBerth.newRepository("scrub-manifest");
        Image image = TestImages.image(1, 1_000);
        client.push(repo, "v1", image);
        rot(image.digest());
        assertThat(BERTH.berth().scrub().corrupt()).contains(image.digest());
        assertThat(file(image.digest())).doesNotExist();
        BERTH.stop(); // a restart empties the in-memory copy of manifests, which held the good bytes
        BERTH.start();
        client = BERTH.client();
        Response gone = client.get("/v2/" + repo + "/manifests/v1");
        assertThat(gone.status()).isEqualTo(404);
        assertThat(gone.errorCode()).isEqualTo("MANIFEST_UNKNOWN");
        assertThat(gone.text()).contains("push the manifest again");
        client.pushManifest(repo, "v1", image.mediaType(), image.manifest());
        assertThat(file(image.digest())).exists();
        assertThat(client.get("/v2/" + repo + "/manifests/v1").body()).isEqualTo(image.manifest());
    }

    @Test
    void aRottenMirroredLayerIsFetchedAgain() throws Exception {
        RegistryClient client = BERTH.client();
        String repo = TestBerth.newRepository("up");
        Image image = TestImages.image(1, 40_000);
        UPSTREAM.client().push(repo, "v1", image);
        String local = "/v2/mirror.example/" + repo;
        assertThat(client.get(local + "/manifests/v1").status()).isEqualTo(200);
        Digest layer = TestImages.sha256(image.blobs().get(0));
        assertThat(client.get(local + "/blobs/" + layer).body()).isEqualTo(image.blobs().get(0));
        for (int i = 0; i < 100 && !Files.exists(file(layer)); i++) {
            Thread.sleep(50); // the client may have every byte a moment before the cache has stored them
        }
        rot(layer);
        assertThat(BERTH.berth().scrub().corrupt()).contains(layer);
        assertThat(client.get(local + "/blobs/" + layer).body()).as("fetched afresh from upstream")
                .isEqualTo(image.blobs().get(0));
        assertThat(BERTH.berth().scrub().corrupt()).isEmpty();
    }

    @Test
    void aLayerWhoseFileIsGoneIsForgottenSoThatAPushRepairsIt() throws Exception {
        RegistryClient client = BERTH.client();
        String repo = TestBerth.newRepository("scrub-missing");
        Image image = TestImages.image(2, 3_000);
        client.push(repo, "v1", image);
        Digest layer = TestImages.sha256(image.blobs().get(0));
        Files.delete(file(layer));
        try (LogCapture logs = new LogCapture()) {
            assertThat(BERTH.berth().scrub().corrupt()).contains(layer);
            assertThat(logs.errors()).anyMatch(m -> m.contains(layer.toString()) && m.contains("missing"));
        }
        assertThat(client.head("/v2/" + repo + "/blobs/" + layer).status()).as("HEAD tells the pusher").isEqualTo(404);
        client.push(repo, "v1", image); // uploads what HEAD says is missing
        assertThat(client.get("/v2/" + repo + "/blobs/" + layer).body()).isEqualTo(image.blobs().get(0));

        Digest other = TestImages.sha256(image.blobs().get(1));
        Files.delete(file(other));
        Response r = client.get("/v2/" + repo + "/blobs/" + other);
        assertThat(r.status()).as("found missing on a GET: unknown, not a 500").isEqualTo(404);
        assertThat(r.errorCode()).isEqualTo("BLOB_UNKNOWN");
        assertThat(client.head("/v2/" + repo + "/blobs/" + other).status()).isEqualTo(404);
    }
}
