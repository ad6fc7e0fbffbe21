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
import java.util.ArrayList;
import java.util.List;

/** Berth in a process of its own, as an operator runs it, so a test can kill it with SIGKILL. */
public final class BerthProcess implements AutoCloseable {
    private final Process process;
    private final int port;
    private final Path log;

    private BerthProcess(Process process, int port, Path log) {
        this.process = process;
        this.port = port;
        this.log = log;
    }

    /** Starts {@code berth serve} on a free port with its data in {@code root} and waits until it answers. */
    public static BerthProcess start(Path root, String... extraArgs) throws Exception {
        return startWithLog(root, "{\"level\":\"info\"}", extraArgs);
    }

    /** The same, with {@code log} as the config's log section (JSON). */
    public static BerthProcess startWithLog(Path root, String logSection, String... extraArgs) throws Exception {
        return startWithConfig("{\"rootDirectory\":\"" + root + "\"}", "", logSection, extraArgs);
    }

    /**
     * Starts {@code berth serve} with {@code storage} as the config's storage section and {@code httpExtra} (such
     * as {@code "auth":{...},}) added to its http section, both JSON.
     */
    public static BerthProcess startWithConfig(String storage, String httpExtra, String logSection, String... extraArgs)
            throws Exception {
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        Path config = Files.createTempFile("berth-config", ".json");
        Files.writeString(config, "{\"storage\":" + storage + ","
                + "\"http\":{" + httpExtra + "\"address\":\"127.0.0.1\",\"port\":\"" + port + "\"},\"log\":"
                + logSection + "}");
        Path log = Files.createTempFile("berth-process", ".log");
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> command = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-Xmx256m",
                "-cp", System.getProperty("java.class.path"), "dev.berth.cli.Main", "serve", "--config", config.toString()));
        command.addAll(List.of(extraArgs));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        BerthProcess berth = new BerthProcess(process, port, log);
        berth.awaitReady(Duration.ofSeconds(60));
        return berth;
    }

    private void awaitReady(Duration timeout) throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("berth exited with " + process.exitValue() + ":\n" + log());
            }
            try {
                HttpResponse<Void> r = http.send(HttpRequest.newBuilder(uri().resolve("/readyz")).build(),
                        HttpResponse.BodyHandlers.discarding());
                if (r.statusCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // keep waiting
            }
            Thread.sleep(100);
        }
        throw new IllegalStateException("berth did not become ready:\n" + log());
    }

    public URI uri() {
        return URI.create("http://127.0.0.1:" + port);
    }

    public RegistryClient client() {
        return new RegistryClient(uri());
    }

    public String log() throws IOException {
        return Files.readString(log, StandardCharsets.UTF_8);
    }

    /** SIGKILL: no shutdown hook runs, nothing is flushed. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor();
    }

    /** SIGTERM: the graceful stop an operator or orchestrator asks for. Returns the exit code. */
    public int terminate() throws InterruptedException {
        process.destroy();
        return process.waitFor();
    }

    public Process process() {
        return process;
    }

    @Override
    public void close() throws IOException {
        if (process.isAlive()) {
            process.destroyForcibly();
            process.onExit().join();
        }
        Files.deleteIfExists(log);
    }
}
