package dev.berth;

import dev.berth.config.BerthConfig;
import dev.berth.http.HttpServer;
import dev.berth.http.Router;
import dev.berth.meta.JdbcMetadataStore;
import dev.berth.meta.MetadataStore;
import dev.berth.ops.Health;
import dev.berth.registry.Registry;
import dev.berth.store.FileBlobStore;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Wires configuration → stores → registry → HTTP by hand, and starts and stops the whole. */
public final class Berth implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Berth.class);

    private final FileBlobStore blobs;
    private final MetadataStore meta;
    private final Health health;
    private final HttpServer server;

    private Berth(FileBlobStore blobs, MetadataStore meta, Health health, HttpServer server) {
        this.blobs = blobs;
        this.meta = meta;
        this.health = health;
        this.server = server;
    }

    /** Opens the data directory and starts serving; everything opened is closed again if a step fails. */
    public static Berth start(BerthConfig config) throws Exception {
        Path root = config.storage().rootDirectory().toAbsolutePath();
        Files.createDirectories(root);
        FileBlobStore blobs = new FileBlobStore(root);
        MetadataStore meta = null;
        try {
            meta = JdbcMetadataStore.sqlite(root.resolve("berth.db"), Clock.systemUTC());
            Registry registry = Registry.create(blobs, meta, Clock.systemUTC());
            Health health = new Health(() -> Files.isDirectory(root) && Files.isWritable(root));
            HttpServer server = new HttpServer(config.http(), new Router(registry, health));
            server.start();
            health.markStarted();
            LOG.info("Berth {} serving {} with data in {}", version(), server.uri(), root);
            return new Berth(blobs, meta, health, server);
        } catch (Exception | Error e) {
            if (meta != null) {
                meta.close();
            }
            blobs.close();
            throw e;
        }
    }

    public int port() {
        return server.port();
    }

    public URI uri() {
        return server.uri();
    }

    /** Graceful stop: no new requests, requests in flight finish, then the stores close. */
    @Override
    public void close() throws Exception {
        health.markStopping();
        try {
            server.stop();
        } finally {
            try {
                meta.close();
            } finally {
                blobs.close();
            }
        }
        LOG.info("Berth stopped");
    }

    public static String version() {
        String v = Berth.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }
}
