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
        HttpServer server = new HttpServer(config.http());
        Path root = config.storage().rootDirectory().toAbsolutePath();
        Files.createDirectories(root);
        FileBlobStore blobs = new FileBlobStore(root);
        MetadataStore meta = null;
        try {
            meta = JdbcMetadataStore.sqlite(root.resolve("berth.db"), Clock.systemUTC());
            Registry registry = Registry.create(blobs, meta, Clock.systemUTC());
            Health health = new Health(() -> Files.isDirectory(root) && Files.isWritable(root));
            server.start(new Router(registry, health));
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
    public void close() {
        health.markStopping();
        try {
            server.stop();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            LOG.warn("interrupted while stopping the HTTP server");
        } catch (Exception e) {
            LOG.warn("stopping the HTTP server failed", e);
        } finally {
            try {
                meta.close();
            } finally {
                blobs.close();
            }
        }
        LOG.info("Berth stopped");
    }

    /** One line an operator can act on, for the usual reasons a start fails. */
    public static String describeStartFailure(Throwable failure, BerthConfig config) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof java.net.BindException) {
                return "cannot listen on " + config.http().address() + ":" + config.http().port() + ": " + t.getMessage();
            }
            if (t instanceof java.nio.file.AccessDeniedException denied) {
                return "permission denied: " + denied.getFile();
            }
            if (t instanceof java.nio.file.FileSystemException fs) {
                return fs.getFile() + ": " + (fs.getReason() == null ? fs.getClass().getSimpleName() : fs.getReason());
            }
        }
        String message = failure.getMessage();
        return message == null ? failure.toString() : message;
    }

    public static String version() {
        String v = Berth.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }
}
