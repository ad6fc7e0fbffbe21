package dev.berth.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.berth.oci.Digest;
import dev.berth.oci.DigestAlgorithm;
import dev.berth.testing.TestS3;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.channels.SeekableByteChannel;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.s3.S3Client;

/** The blob store contract on S3 (s3proxy in the test JVM), and what only a shared bucket must do. */
class S3BlobStoreTest extends BlobStoreContract {
    @TempDir
    Path spool;
    private String bucket;

    @Override
    protected BlobStore newStore() throws Exception {
        if (bucket == null) {
            bucket = TestS3.newBucket();
        }
        return node("a");
    }

    /** Another node on the same bucket, with a spool of its own. */
    private S3BlobStore node(String name) throws Exception {
        return new S3BlobStore(TestS3.client(), bucket, "berth", spool.resolve(name));
    }

    @Test
    void laysBlobsOutByAlgorithmAndPrefixInTheBucket() throws Exception {
        byte[] content = random(10, 11);
        Digest digest = Digest.compute(DigestAlgorithm.SHA256, content);
        store.put(digest, content);
        try (S3Client s3 = TestS3.client()) {
            assertThat(s3.headObject(h -> h.bucket(bucket)
                    .key("berth/blobs/sha256/" + digest.hex().substring(0, 2) + "/" + digest.hex())).contentLength())
                    .isEqualTo(10);
        }
    }

    @Test
    void anUploadStartedOnOneNodeIsContinuedAndCommittedOnOthers() throws Exception {
        byte[] content = random(7 * 1024 * 1024 + 123, 21);
        Digest digest = Digest.compute(DigestAlgorithm.SHA256, content);
        String id = UUID.randomUUID().toString();
        try (S3BlobStore b = node("b"); S3BlobStore c = node("c")) {
            store.createUpload(id, DigestAlgorithm.SHA256);
            store.appendToUpload(id, new ByteArrayInputStream(content, 0, 1_000));
            assertThat(b.uploadSize(id)).isEqualTo(1_000);
            b.appendToUpload(id, new ByteArrayInputStream(content, 1_000, 6 * 1024 * 1024));
            assertThat(c.uploadSize(id)).isEqualTo(1_000 + 6 * 1024 * 1024);
            c.appendToUpload(id, new ByteArrayInputStream(content, 1_000 + 6 * 1024 * 1024,
                    content.length - 1_000 - 6 * 1024 * 1024));
            // c saw only the last piece: it reads the others back to check the digest
            assertThat(c.commitUpload(id, digest)).isEqualTo(content.length);
            assertThat(store.size(digest)).hasValue(content.length);
            try (SeekableByteChannel channel = b.open(digest)) {
                assertThat(read(channel)).isEqualTo(content);
            }
            assertThat(store.uploads()).isEmpty();
        }
    }

    @Test
    void largePiecesAreJoinedInsideTheBucketAndRangesAreServed() throws Exception {
        byte[] content = random(40 * 1024 * 1024, 22);
        Digest digest = Digest.compute(DigestAlgorithm.SHA256, content);
        String id = UUID.randomUUID().toString();
        store.createUpload(id, DigestAlgorithm.SHA256);
        store.appendToUpload(id, new ByteArrayInputStream(content, 0, 20 * 1024 * 1024));
        store.appendToUpload(id, new ByteArrayInputStream(content, 20 * 1024 * 1024, 20 * 1024 * 1024));
        assertThat(store.commitUpload(id, digest)).isEqualTo(content.length);
        try (SeekableByteChannel channel = store.open(digest)) {
            assertThat(channel.size()).isEqualTo(content.length);
            channel.position(30 * 1024 * 1024);
            ByteBuffer tail = ByteBuffer.allocate(1000);
            while (tail.hasRemaining() && channel.read(tail) > 0) {
                // fill
            }
            byte[] expected = new byte[1000];
            System.arraycopy(content, 30 * 1024 * 1024, expected, 0, 1000);
            assertThat(tail.array()).isEqualTo(expected);
        }
    }

    @Test
    void smallBlobsAreKeptInMemoryOnlyOnceTheyHashToTheirDigest() throws Exception {
        byte[] content = random(2_000, 23);
        Digest digest = Digest.compute(DigestAlgorithm.SHA256, content);
        String key = "berth/blobs/sha256/" + digest.hex().substring(0, 2) + "/" + digest.hex();
        try (S3Client s3 = TestS3.client()) {
            // Rotten bytes in the bucket are served as they are (scrub's business) but never kept.
            s3.putObject(p -> p.bucket(bucket).key(key), software.amazon.awssdk.core.sync.RequestBody.fromBytes(new byte[2_000]));
            try (SeekableByteChannel channel = store.open(digest)) {
                assertThat(read(channel)).isEqualTo(new byte[2_000]);
            }
            s3.putObject(p -> p.bucket(bucket).key(key), software.amazon.awssdk.core.sync.RequestBody.fromBytes(content));
            try (SeekableByteChannel channel = store.open(digest)) {
                assertThat(read(channel)).isEqualTo(content);
            }
            // Now kept: served even with the bucket's copy gone behind the store's back.
            s3.deleteObject(d -> d.bucket(bucket).key(key));
            try (SeekableByteChannel channel = store.open(digest)) {
                assertThat(read(channel)).isEqualTo(content);
            }
            // Deleting through the store forgets it.
            store.put(digest, content);
            assertThat(store.delete(digest)).isTrue();
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> store.open(digest))
                    .isInstanceOf(java.nio.file.NoSuchFileException.class);
        }
    }

    @Test
    void aBusyBucketIsRetriedWithBackOff() throws Exception {
        // A TCP proxy in front of the S3 server that answers the first connections "503 SlowDown", as S3 does
        // when throttling, and then passes everything through untouched (signatures stay valid).
        try (java.net.ServerSocket front = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
            java.util.concurrent.atomic.AtomicInteger refused = new java.util.concurrent.atomic.AtomicInteger();
            Thread.ofVirtual().start(() -> {
                while (!front.isClosed()) {
                    try {
                        java.net.Socket client = front.accept();
                        if (refused.incrementAndGet() <= 3) {
                            Thread.ofVirtual().start(() -> slowDown(client));
                        } else {
                            java.net.Socket server = new java.net.Socket("127.0.0.1", TestS3.endpoint().getPort());
                            Thread.ofVirtual().start(() -> pipe(client, server));
                            Thread.ofVirtual().start(() -> pipe(server, client));
                        }
                    } catch (java.io.IOException closed) {
                        return;
                    }
                }
            });
            java.net.URI busy = java.net.URI.create("http://127.0.0.1:" + front.getLocalPort());
            try (S3BlobStore flaky = new S3BlobStore(S3BlobStore.client(TestS3.REGION, busy, true, TestS3.ACCESS_KEY,
                    TestS3.SECRET_KEY), bucket, "berth", spool.resolve("flaky"))) {
                byte[] content = random(5_000, 24);
                Digest digest = Digest.compute(DigestAlgorithm.SHA256, content);
                flaky.put(digest, content);
                assertThat(refused.get()).as("three refusals, then the retries went through").isGreaterThan(3);
                assertThat(store.size(digest)).hasValue(5_000);
            }
        }
    }

    private static void slowDown(java.net.Socket client) {
        try (client) {
            java.io.InputStream in = client.getInputStream();
            byte[] head = new byte[8192];
            int n = in.read(head); // the request line and headers; the answer does not wait for a body
            assertThat(n).isPositive();
            String body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code>"
                    + "<Message>Please reduce your request rate.</Message></Error>";
            client.getOutputStream().write(("HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\n"
                    + "Content-Length: " + body.length() + "\r\nConnection: close\r\n\r\n" + body)
                    .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            client.getOutputStream().flush();
        } catch (java.io.IOException ignored) {
            // the client gave up on this connection
        }
    }

    private static void pipe(java.net.Socket from, java.net.Socket to) {
        try {
            from.getInputStream().transferTo(to.getOutputStream());
        } catch (java.io.IOException ignored) {
            // one side closed
        } finally {
            try {
                to.shutdownOutput();
            } catch (java.io.IOException ignored) {
                // already closed
            }
        }
    }

    @Test
    void chunksSentAtOnceThroughTwoNodesNeverCommitEitherContent() throws Exception {
        byte[] good = "GOODGOODGOOD".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        byte[] evil = "EVILEVILEVIL".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        String id = UUID.randomUUID().toString();
        store.createUpload(id, DigestAlgorithm.SHA256);
        try (S3BlobStore other = node("b")) {
            // The other node's chunk starts first, at byte 0, and ends after this node's chunk, also at byte 0.
            java.util.concurrent.CountDownLatch goodDone = new java.util.concurrent.CountDownLatch(1);
            InputStream slow = new java.io.SequenceInputStream(new ByteArrayInputStream(evil, 0, 1), new InputStream() {
                int at = 1;

                @Override
                public int read() throws java.io.IOException {
                    try {
                        goodDone.await();
                    } catch (InterruptedException e) {
                        throw new java.io.InterruptedIOException();
                    }
                    return at < evil.length ? evil[at++] & 0xff : -1;
                }
            });
            Thread late = Thread.ofVirtual().start(() -> {
                try {
                    other.appendToUpload(id, slow);
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            Thread.sleep(500); // the other node has listed the upload (0 bytes) and is reading its chunk
            store.appendToUpload(id, new ByteArrayInputStream(good));
            goodDone.countDown();
            late.join();
            for (byte[] content : new byte[][] {good, evil}) {
                Digest digest = Digest.compute(DigestAlgorithm.SHA256, content);
                org.assertj.core.api.Assertions.assertThatThrownBy(() -> store.commitUpload(id, digest))
                        .isInstanceOfSatisfying(dev.berth.oci.RegistryException.class,
                                e -> assertThat(e.code()).isEqualTo(dev.berth.oci.ErrorCode.BLOB_UPLOAD_INVALID));
                assertThat(store.size(digest)).as("nothing stored under %s", new String(content)).isEmpty();
            }
        }
    }

    @Test
    void aPieceWrittenByAnotherNodeIsReadBackRatherThanTrustingThisNodesHash() throws Exception {
        byte[] content = random(3_000, 25);
        Digest digest = Digest.compute(DigestAlgorithm.SHA256, content);
        String id = UUID.randomUUID().toString();
        store.createUpload(id, DigestAlgorithm.SHA256);
        store.appendToUpload(id, new ByteArrayInputStream(content, 0, 1_000));
        try (S3BlobStore other = node("b")) {
            other.appendToUpload(id, new ByteArrayInputStream(content, 1_000, 2_000));
        }
        assertThat(store.commitUpload(id, digest)).isEqualTo(3_000);
        try (SeekableByteChannel channel = store.open(digest)) {
            assertThat(read(channel)).isEqualTo(content);
        }
    }

    @Test
    void multipartCopiesNeverHaveASmallPartInTheMiddle() {
        long mib = 1024 * 1024;
        for (long size : new long[] {5 * mib, 1024 * mib, 1024 * mib + 1, 1025 * mib, 5 * 1024 * mib + 7, 40L * 1024 * 1024 * mib}) {
            List<long[]> ranges = S3BlobStore.copyRanges(size);
            assertThat(ranges.getFirst()[0]).isZero();
            assertThat(ranges.getLast()[1]).isEqualTo(size - 1);
            for (int i = 0; i < ranges.size(); i++) {
                long length = ranges.get(i)[1] - ranges.get(i)[0] + 1;
                assertThat(length).as("part %d of %d bytes", i, size).isBetween(5 * mib, 1024 * mib);
                if (i > 0) {
                    assertThat(ranges.get(i)[0]).isEqualTo(ranges.get(i - 1)[1] + 1);
                }
            }
        }
    }
}
