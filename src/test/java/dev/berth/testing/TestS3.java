package dev.berth.testing;

import dev.berth.config.BerthConfig;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicInteger;
import org.gaul.s3proxy.AuthenticationType;
import org.gaul.s3proxy.BlobStores;
import org.gaul.s3proxy.S3Proxy;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * An S3 server in the test JVM: s3proxy over a temporary directory, with signature checking on, started once
 * per test run on a loopback port. Each caller gets a bucket of its own.
 */
public final class TestS3 {
    public static final String ACCESS_KEY = "berth-test-access";
    public static final String SECRET_KEY = "berth-test-secret-key";
    public static final String REGION = "us-east-1";
    private static final AtomicInteger BUCKETS = new AtomicInteger();
    private static URI endpoint;

    private TestS3() {
    }

    public static synchronized URI endpoint() {
        if (endpoint == null) {
            try {
                Path dir = Files.createTempDirectory("berth-s3");
                Properties properties = new Properties();
                properties.setProperty("jclouds.filesystem.basedir", dir.toString());
                properties.setProperty("jclouds.identity", ACCESS_KEY);
                properties.setProperty("jclouds.credential", SECRET_KEY);
                S3Proxy proxy = S3Proxy.builder()
                        .blobStore(BlobStores.create("filesystem", properties))
                        .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY, SECRET_KEY)
                        .endpoint(URI.create("http://127.0.0.1:0"))
                        .ignoreUnknownHeaders(true)
                        .build();
                proxy.start();
                while (!"STARTED".equals(proxy.getState())) {
                    Thread.sleep(10);
                }
                endpoint = URI.create("http://127.0.0.1:" + proxy.getPort());
            } catch (Exception e) {
                throw new AssertionError("cannot start the S3 server", e);
            }
        }
        return endpoint;
    }

    /** A new, empty bucket. */
    public static String newBucket() {
        String bucket = "berth-" + ProcessHandle.current().pid() + "-" + BUCKETS.incrementAndGet();
        try (S3Client client = client()) {
            client.createBucket(b -> b.bucket(bucket));
        }
        return bucket;
    }

    public static S3Client client() {
        return dev.berth.store.S3BlobStore.client(REGION, endpoint(), true, ACCESS_KEY, SECRET_KEY);
    }

    /** The storage driver settings for {@code bucket}, as zot's storage.storageDriver would give them. */
    public static BerthConfig.ObjectStore objectStore(String bucket) {
        return new BerthConfig.ObjectStore(bucket, REGION, endpoint(), "berth", true, ACCESS_KEY, SECRET_KEY);
    }

}
