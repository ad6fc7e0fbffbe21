package dev.berth.http;

import dev.berth.config.BerthConfig;
import dev.berth.config.TlsKeys;
import java.io.IOException;
import java.net.URI;
import java.security.GeneralSecurityException;
import java.time.Duration;
import org.eclipse.jetty.io.ArrayByteBufferPool;
import org.eclipse.jetty.io.ByteBufferPool;
import org.eclipse.jetty.server.ConnectionFactory;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.NetworkConnectionLimit;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.server.handler.GracefulHandler;
import org.eclipse.jetty.util.VirtualThreads;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * The Jetty server: handlers on virtual threads, idle timeouts only (a request may take as long as its bytes
 * take), optional TLS, one access-log line per request, and a graceful stop that lets requests in flight end.
 */
public final class HttpServer {
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(30);

    private final Server server;
    private final ServerConnector connector;
    private final boolean tls;

    /** Prepares the listener (reading TLS material, so that bad files fail before anything else happens). */
    public HttpServer(BerthConfig.Http config) throws IOException, GeneralSecurityException {
        QueuedThreadPool threads = new QueuedThreadPool();
        threads.setName("berth-http");
        threads.setVirtualThreadsExecutor(VirtualThreads.getNamedVirtualThreadsExecutor("berth-request"));
        // Jetty's default pool keeps buffers up to 64 KiB only; a blob is streamed in larger pieces, and a buffer
        // the pool will not keep is allocated and zeroed for every request (half the time of a 1 MB GET).
        ByteBufferPool buffers = new ArrayByteBufferPool.Quadratic(0, BlobsHandler.CHUNK, -1, 32L << 20, 64L << 20);
        server = new Server(threads, null, buffers);

        HttpConfiguration http = new HttpConfiguration();
        http.setSendServerVersion(false);
        http.setSendXPoweredBy(false);
        http.setRequestHeaderSize(16 * 1024);
        // Layers arrive in reads of this size: with Jetty's 8 KiB default a 1 MB blob took 128 socket reads, 128
        // file writes and as many hand-overs between threads.
        http.setInputBufferSize(256 * 1024);
        // Room for one OCI-Tag header per tag of a push with many ?tag= parameters.
        http.setResponseHeaderSize(16 * 1024);
        tls = config.tls() != null;
        ConnectionFactory[] factories;
        if (tls) {
            SslContextFactory.Server ssl = new SslContextFactory.Server();
            ssl.setKeyStore(TlsKeys.load(config.tls().cert(), config.tls().key()));
            ssl.setKeyStorePassword(new String(TlsKeys.PASSWORD));
            if (config.tls().caCert() != null) {
                // Client certificates are asked for, not demanded: other callers sign in some other way.
                ssl.setTrustStore(TlsKeys.trustStore(config.tls().caCert()));
                ssl.setWantClientAuth(true);
            }
            http.addCustomizer(new SecureRequestCustomizer());
            factories = new ConnectionFactory[] {new SslConnectionFactory(ssl, "http/1.1"), new HttpConnectionFactory(http)};
        } else {
            factories = new ConnectionFactory[] {new HttpConnectionFactory(http)};
        }
        connector = new ServerConnector(server, factories);
        connector.setHost(config.address());
        connector.setPort(config.port());
        connector.setIdleTimeout(config.idleTimeout().toMillis());
        server.addConnector(connector);

        // Beyond this many connections new ones wait in the kernel's backlog instead of exhausting descriptors.
        server.addBean(new NetworkConnectionLimit(config.maxConnections(), connector));
        server.setErrorHandler(new JsonErrorHandler());
        server.setStopTimeout(STOP_TIMEOUT.toMillis());
        server.setRequestLog(new AccessLog());
    }

    public void start(Handler handler) throws Exception {
        server.setHandler(new GracefulHandler(handler));
        server.start();
    }

    /** Stops taking connections, lets requests in flight finish (up to 30 s), then closes everything. */
    public void stop() throws Exception {
        server.stop();
    }

    public int port() {
        return connector.getLocalPort();
    }

    public URI uri() {
        String host = connector.getHost() == null ? "0.0.0.0" : connector.getHost();
        if (host.contains(":")) {
            host = "[" + host + "]";
        }
        return URI.create((tls ? "https" : "http") + "://" + host + ":" + port());
    }
}
