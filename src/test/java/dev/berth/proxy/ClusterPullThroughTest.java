package dev.berth.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.berth.Berth;
import dev.berth.config.BerthConfig;
import dev.berth.config.SyncConfig;
import dev.berth.testing.FakeUpstream;
import dev.berth.testing.RegistryClient;
import dev.berth.testing.RegistryClient.Response;
import dev.berth.testing.TestBerth;
import dev.berth.testing.TestImages;
import dev.berth.testing.TestImages.Image;
import dev.berth.testing.TestPostgres;
import dev.berth.testing.TestS3;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.s3.S3Client;

/** Two cluster nodes (one database, one bucket) pulling the same cold image through at the same moment. */
class ClusterPullThroughTest {
    @RegisterExtension
    static final TestBerth UPSTREAM = new TestBerth();

    @TempDir
    Path dir;

    @Test
    void twoNodesFetchingTheSameColdBlobAtOnceStoreItWholeOnce() throws Exception {
        Image image = TestImages.image(2, 6 * 1024 * 1024);
        UPSTREAM.client().push("library/cold", "v1", image);
        String url = TestPostgres.newDatabase();
        String bucket = TestS3.newBucket();
        try (FakeUpstream hub = new FakeUpstream(UPSTREAM.uri(), false)) {
            SyncConfig sync = new SyncConfig(true, List.of(PullThroughTest.upstream(hub.uri(), "docker.io",
                    List.of(), Duration.ofMinutes(5))));
            List<Berth> nodes = new ArrayList<>();
            try {
                for (String name : List.of("a", "b")) {
                    BerthConfig defaults = BerthConfig.defaults();
                    nodes.add(Berth.start(new BerthConfig(new BerthConfig.Storage(dir.resolve(name))
                            .withDatabase(new BerthConfig.Database(url, TestPostgres.user(), TestPostgres.password(), 8))
                            .withObjectStore(TestS3.objectStore(bucket)), defaults.http().withPort(0), defaults.log())
                            .withSync(sync)));
                }
                CountDownLatch go = new CountDownLatch(1);
                List<Future<List<byte[]>>> pulls = new ArrayList<>();
                try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
                    for (int i = 0; i < 6; i++) {
                        RegistryClient client = new RegistryClient(nodes.get(i % 2).uri());
                        pulls.add(pool.submit(() -> {
                            go.await();
                            Response manifest = client.get("/v2/docker.io/library/cold/manifests/v1",
                                    "Accept", image.mediaType());
                            assertThat(manifest.status()).isEqualTo(200);
                            List<byte[]> blobs = new ArrayList<>();
                            for (byte[] blob : image.blobs()) {
                                blobs.add(client.get("/v2/docker.io/library/cold/blobs/" + TestImages.sha256(blob)).body());
                            }
                            return blobs;
                        }));
                    }
                    go.countDown();
                }
                for (Future<List<byte[]>> pull : pulls) {
                    List<byte[]> got = pull.get();
                    for (int b = 0; b < image.blobs().size(); b++) {
                        assertThat(got.get(b)).isEqualTo(image.blobs().get(b));
                    }
                }
                assertThat(hub.count("GET", "blob")).as("at most one download per node and blob")
                        .isBetween(image.blobs().size(), 2 * image.blobs().size());
                try (S3Client s3 = TestS3.client()) {
                    for (byte[] blob : image.blobs()) {
                        String hex = TestImages.sha256(blob).hex();
                        // A client may have every byte before the download is stored (the bucket is written once
                        // the bytes are verified): wait for it, within reason.
                        assertThat(storedSize(s3, bucket, "berth/blobs/sha256/" + hex.substring(0, 2) + "/" + hex))
                                .isEqualTo(blob.length);
                    }
                }
                // Warm now on both nodes: nothing more is fetched.
                int before = hub.count("GET", "blob");
                for (Berth node : nodes) {
                    for (byte[] blob : image.blobs()) {
                        assertThat(new RegistryClient(node.uri()).get("/v2/docker.io/library/cold/blobs/"
                                + TestImages.sha256(blob)).body()).isEqualTo(blob);
                    }
                }
                assertThat(hub.count("GET", "blob")).isEqualTo(before);
            } finally {
                for (Berth node : nodes) {
                    node.close();
                }
            }
        }
    }

    /** The size of an object once it is there, waiting up to 20 s; -1 if it never appears. */
    private static long storedSize(S3Client s3, String bucket, String key) throws InterruptedException {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(20);
        while (true) {
            try {
                return s3.headObject(h -> h.bucket(bucket).key(key)).contentLength();
            } catch (software.amazon.awssdk.services.s3.model.NoSuchKeyException e) {
                if (System.nanoTime() > deadline) {
                    return -1;
                }
                Thread.sleep(20);
            }
        }
    }
}
