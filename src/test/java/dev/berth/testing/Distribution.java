package dev.berth.testing;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Debian's {@code docker-registry} (CNCF distribution 2.8, the reference implementation) on a loopback port with
 * its data in a directory of the caller's: a real upstream that behaves as registries on the internet do.
 */
public final class Distribution implements AutoCloseable {
    public static final String PROGRAM = "docker-registry";

    private final Process process;
    private final int port;
    private final Path log;

    private Distribution(Process process, int port, Path log) {
        this.process = process;
        this.port = port;
        this.log = log;
    }

    public static Distribution start(Path dir) throws Exception {
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        Path config = dir.resolve("registry.yml");
        Files.writeString(config, String.join("\n",
                "version: 0.1",
                "storage:",
                "  filesystem:",
                "    rootdirectory: " + dir.resolve("data"),
                "  delete:",
                "    enabled: true",
                "http:",
                "  addr: 127.0.0.1:" + port,
                "log:",
                "  level: warn",
                ""));
        Path log = dir.resolve("registry.log");
        Process process = new ProcessBuilder(List.of(PROGRAM, "serve", config.toString()))
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        Distribution registry = new Distribution(process, port, log);
        registry.awaitReady();
        return registry;
    }

    private void awaitReady() throws Exception {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException(PROGRAM + " exited with " + process.exitValue() + ":\n" + log());
            }
            try {
                if (http.send(HttpRequest.newBuilder(uri().resolve("/v2/")).build(),
                        HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // keep waiting
            }
            Thread.sleep(100);
        }
        throw new IllegalStateException(PROGRAM + " did not answer:\n" + log());
    }

    public URI uri() {
        return URI.create("http://127.0.0.1:" + port);
    }

    public String hostPort() {
        return "127.0.0.1:" + port;
    }

    public String log() throws IOException {
        return Files.readString(log, StandardCharsets.UTF_8);
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        process.waitFor();
    }
}
