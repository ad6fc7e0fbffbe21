package dev.berth.config;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;

/** Berth's configuration, validated; read from a zot-format {@code config.json} or the built-in defaults. */
public record BerthConfig(Storage storage, Http http, Log log) {

    public static final String DEFAULT_ADDRESS = "127.0.0.1";
    public static final int DEFAULT_PORT = 5000;
    public static final Path DEFAULT_ROOT = Path.of("berth-data");
    public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofSeconds(60);
    public static final int DEFAULT_MAX_CONNECTIONS = 4096;

    /** Where everything is kept: blobs, uploads and the SQLite database. */
    public record Storage(Path rootDirectory) {
    }

    /**
     * The listener. {@code externalUrl} is the address clients reach Berth at (behind a proxy); {@code tls} is
     * null for plain HTTP. Only idle connections time out: a request may take as long as its bytes take.
     */
    public record Http(String address, int port, Tls tls, URI externalUrl, Duration idleTimeout, int maxConnections) {
        public Http withPort(int newPort) {
            return new Http(address, newPort, tls, externalUrl, idleTimeout, maxConnections);
        }

        public Http withTls(Tls newTls) {
            return new Http(address, port, newTls, externalUrl, idleTimeout, maxConnections);
        }
    }

    public record Tls(Path cert, Path key) {
    }

    /** {@code level} is one of trace, debug, info, warn, error; {@code output} a file, or null for stdout. */
    public record Log(String level, Path output) {
    }

    public static BerthConfig defaults() {
        return new BerthConfig(new Storage(DEFAULT_ROOT),
                new Http(DEFAULT_ADDRESS, DEFAULT_PORT, null, null, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS),
                new Log("info", null));
    }
}
