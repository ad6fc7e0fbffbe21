package dev.berth.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.berth.Berth;
import dev.berth.config.BerthConfig;
import dev.berth.testing.LogCapture;
import dev.berth.testing.RegistryClient;
import dev.berth.testing.TestImages;
import dev.berth.testing.TestS3;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.s3.S3Client;

/** Berth itself with its blobs in S3 (and SQLite): configured, refused when it cannot work, ready only while it can. */
class S3ServerTest {
    @TempDir
    Path dir;

    private BerthConfig config(BerthConfig.ObjectStore bucket) {
        BerthConfig defaults = BerthConfig.defaults();
        return new BerthConfig(new BerthConfig.Storage(dir.resolve("data")).withObjectStore(bucket),
                defaults.http().withPort(0), defaults.log());
    }

    @Test
    void blobsGoToTheBucketAndNotToTheDataDirectory() throws Exception {
        String bucket = TestS3.newBucket();
        TestImages.Image image = TestImages.image(2, 10_000);
        try (Berth berth = Berth.start(config(TestS3.objectStore(bucket)))) {
            new RegistryClient(berth.uri()).push("s3/app", "v1", image);
        }
        assertThat(dir.resolve("data/blobs/sha256")).doesNotExist();
        try (S3Client s3 = TestS3.client()) {
            for (byte[] blob : image.blobs()) {
                String hex = TestImages.sha256(blob).hex();
                assertThat(s3.headObject(h -> h.bucket(bucket).key("berth/blobs/sha256/" + hex.substring(0, 2) + "/" + hex))
                        .contentLength()).isEqualTo(blob.length);
            }
        }
        try (Berth berth = Berth.start(config(TestS3.objectStore(bucket)))) {
            RegistryClient client = new RegistryClient(berth.uri());
            for (byte[] blob : image.blobs()) {
                assertThat(client.get("/v2/s3/app/blobs/" + TestImages.sha256(blob)).body()).isEqualTo(blob);
            }
        }
    }

    @Test
    void aWrongSecretOrAMissingBucketStopsTheStartAndNoSecretIsPrinted() {
        BerthConfig.ObjectStore right = TestS3.objectStore(TestS3.newBucket());
        BerthConfig.ObjectStore wrongSecret = new BerthConfig.ObjectStore(right.bucket(), right.region(), right.endpoint(),
                right.prefix(), true, right.accessKey(), "not-the-secret-xyz");
        try (LogCapture log = new LogCapture()) {
            assertThatThrownBy(() -> Berth.start(config(wrongSecret)))
                    .hasMessageContaining("cannot use the S3 bucket " + right.bucket())
                    .hasMessageNotContaining("not-the-secret-xyz");
            assertThat(log.all()).noneMatch(line -> line.contains("not-the-secret-xyz"));
        }
        BerthConfig.ObjectStore missing = new BerthConfig.ObjectStore("no-such-bucket", right.region(), right.endpoint(),
                right.prefix(), true, right.accessKey(), right.secretKey());
        assertThatThrownBy(() -> Berth.start(config(missing))).hasMessageContaining("cannot use the S3 bucket no-such-bucket");
    }

    @Test
    void notReadyWhileTheBucketDoesNotAnswer() throws Exception {
        String bucket = TestS3.newBucket();
        try (Berth berth = Berth.start(config(TestS3.objectStore(bucket))); S3Client s3 = TestS3.client()) {
            RegistryClient client = new RegistryClient(berth.uri());
            assertThat(client.get("/readyz").status()).isEqualTo(200);
            s3.deleteObject(d -> d.bucket(bucket).key("berth/berth-store.json")); // the only object: the binding
            s3.deleteBucket(b -> b.bucket(bucket));
            awaitReady(client, 503);
            s3.createBucket(b -> b.bucket(bucket));
            awaitReady(client, 200);
        }
    }

    private static void awaitReady(RegistryClient client, int status) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (client.get("/readyz").status() != status && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        assertThat(client.get("/readyz").status()).isEqualTo(status);
    }

    @Test
    void aDatabaseAndABucketThatBelongToOtherRegistriesAreRefused() throws Exception {
        String bucket = TestS3.newBucket();
        BerthConfig.ObjectStore blobs = TestS3.objectStore(bucket);
        try (Berth first = Berth.start(config(blobs))) {
            new RegistryClient(first.uri()).push("s3/one", "v1", TestImages.image(1, 100));
        }
        // Another registry (its own SQLite) on the same bucket and prefix would collect all of it as unrecorded.
        BerthConfig other = new BerthConfig(new BerthConfig.Storage(dir.resolve("other")).withObjectStore(blobs),
                BerthConfig.defaults().http().withPort(0), BerthConfig.defaults().log());
        assertThatThrownBy(() -> Berth.start(other)).hasMessageContaining("holds the blobs of another Berth database");

        // A PostgreSQL database bound to one prefix refuses a node configured with another, or with local blobs.
        String url = dev.berth.testing.TestPostgres.newDatabase();
        BerthConfig.Database database = new BerthConfig.Database(url, dev.berth.testing.TestPostgres.user(),
                dev.berth.testing.TestPostgres.password(), 8);
        BerthConfig.ObjectStore shared = new BerthConfig.ObjectStore(bucket, blobs.region(), blobs.endpoint(), "cluster",
                true, blobs.accessKey(), blobs.secretKey());
        try (Berth node = Berth.start(new BerthConfig(new BerthConfig.Storage(dir.resolve("n1")).withDatabase(database)
                .withObjectStore(shared), BerthConfig.defaults().http().withPort(0), BerthConfig.defaults().log()))) {
            assertThat(new RegistryClient(node.uri()).get("/readyz").status()).isEqualTo(200);
        }
        BerthConfig.ObjectStore elsewhere = new BerthConfig.ObjectStore(bucket, blobs.region(), blobs.endpoint(),
                "elsewhere", true, blobs.accessKey(), blobs.secretKey());
        assertThatThrownBy(() -> Berth.start(new BerthConfig(new BerthConfig.Storage(dir.resolve("n2"))
                .withDatabase(database).withObjectStore(elsewhere), BerthConfig.defaults().http().withPort(0),
                BerthConfig.defaults().log())))
                .hasMessageContaining("this database describes the blobs in s3://" + bucket + "/cluster")
                .hasMessageContaining("s3://" + bucket + "/elsewhere");
        assertThatThrownBy(() -> Berth.start(new BerthConfig(new BerthConfig.Storage(dir.resolve("n3"))
                .withDatabase(database), BerthConfig.defaults().http().withPort(0), BerthConfig.defaults().log())))
                .hasMessageContaining("this database describes the blobs in s3://" + bucket + "/cluster");
    }
}
