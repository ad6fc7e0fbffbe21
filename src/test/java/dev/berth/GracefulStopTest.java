package dev.berth;

import static org.assertj.core.api.Assertions.assertThat;

import dev.berth.oci.Digest;
import dev.berth.testing.BerthProcess;
import dev.berth.testing.RegistryClient.Response;
import dev.berth.testing.TestImages;
import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpRequest;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SIGTERM lets a request in flight finish, then Berth exits 0; upload sessions survive the restart. */
class GracefulStopTest {
    @TempDir
    Path root;

    @Test
    void anUploadInFlightCompletesDuringAGracefulStop() throws Exception {
        byte[] content = TestImages.randomBytes(4 * 1024 * 1024);
        Digest digest = TestImages.sha256(content);
        String location;
        try (BerthProcess berth = BerthProcess.start(root)) {
            location = berth.client().post("/v2/graceful/blobs/uploads/", new byte[0]).header("Location");
            CountDownLatch halfSent = new CountDownLatch(1);
            InputStream slow = new InputStream() {
                int position;

                @Override
                public int read() {
                    throw new UnsupportedOperationException();
                }

                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    if (position >= content.length) {
                        return -1;
                    }
                    if (position >= content.length / 2) {
                        halfSent.countDown();
                        try {
                            Thread.sleep(5);
                        } catch (InterruptedException e) {
                            throw new IOException(e);
                        }
                    }
                    int n = Math.min(Math.min(len, 64 * 1024), content.length - position);
                    System.arraycopy(content, position, b, off, n);
                    position += n;
                    return n;
                }
            };
            String session = location;
            CompletableFuture<Response> patch = CompletableFuture.supplyAsync(() -> berth.client().send("PATCH", session,
                    HttpRequest.BodyPublishers.ofInputStream(() -> slow)));
            halfSent.await();
            CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> {
                try {
                    return berth.terminate();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
            Response response = patch.get();
            assertThat(response.status()).as(berth.log()).isEqualTo(202);
            assertThat(response.header("Range")).isEqualTo("0-" + (content.length - 1));
            assertThat(exit.get()).isZero();
            assertThat(berth.log()).contains("stopping: letting requests in flight finish").contains("Berth stopped");
        }
        // The session outlives the restart: the client finishes the upload where it left off.
        try (BerthProcess again = BerthProcess.start(root)) {
            assertThat(again.client().get(location).header("Range")).isEqualTo("0-" + (content.length - 1));
            assertThat(again.client().put(location + "?digest=" + digest, new byte[0]).status()).isEqualTo(201);
            assertThat(again.client().get("/v2/graceful/blobs/" + digest).body()).isEqualTo(content);
        }
    }
}
