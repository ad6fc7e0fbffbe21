package dev.berth.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;

/**
 * An upstream registry for pull-through tests: forwards reads to a real registry, demands bearer tokens the way
 * Docker Hub does (a 401 challenge naming a token realm), counts every request, and misbehaves on demand.
 */
public final class FakeUpstream implements AutoCloseable {
    /** What to do to one request instead of (or while) forwarding it. */
    public enum Fault { NONE, STATUS_429, STATUS_500, STATUS_404, DROP_MID_BODY, TRUNCATE, WRONG_BYTES, SLOW_BODY }

    /** What a request was: method and kind (manifest, blob, token, ping, other), for counting and faults. */
    public record Call(String method, String kind, String path, String authorization) {
    }

    private final URI target;
    private final boolean requireToken;
    private static final java.util.concurrent.atomic.AtomicInteger INSTANCES = new java.util.concurrent.atomic.AtomicInteger();
    private final int id = INSTANCES.incrementAndGet();
    private final java.util.Set<String> issued = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final Server server;
    private final HttpClient forward = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER).build();
    private final Map<String, AtomicInteger> counts = new ConcurrentHashMap<>();
    private final List<Call> calls = new CopyOnWriteArrayList<>();
    private volatile Function<Call, Fault> faults = c -> Fault.NONE;
    private volatile boolean down;
    private final AtomicInteger tokens = new AtomicInteger();

    public FakeUpstream(URI target, boolean requireToken) throws Exception {
        this.target = target;
        this.requireToken = requireToken;
        server = new Server();
        ServerConnector connector = new ServerConnector(server);
        connector.setHost("127.0.0.1");
        connector.setPort(0);
        server.addConnector(connector);
        server.setHandler(new Handler.Abstract() {
            @Override
            public boolean handle(Request request, Response response, Callback callback) {
                try {
                    serve(request, response);
                    callback.succeeded();
                } catch (Throwable t) {
                    callback.failed(t);
                }
                return true;
            }
        });
        server.start();
    }

    public URI uri() {
        return URI.create("http://127.0.0.1:" + ((ServerConnector) server.getConnectors()[0]).getLocalPort());
    }

    /** The number of requests of this method and kind so far, e.g. {@code count("GET", "blob")}. */
    public int count(String method, String kind) {
        AtomicInteger c = counts.get(method + " " + kind);
        return c == null ? 0 : c.get();
    }

    /** Whether this upstream's token service issued {@code token}: a token from elsewhere is refused. */
    public boolean issued(String token) {
        return issued.contains(token);
    }

    public int total() {
        return calls.size();
    }

    public List<Call> calls() {
        return List.copyOf(calls);
    }

    public void reset() {
        counts.clear();
        calls.clear();
        faults = c -> Fault.NONE;
        down = false;
    }

    public void faults(Function<Call, Fault> which) {
        this.faults = which;
    }

    /** While down, every connection is cut before an answer: the upstream cannot be reached. */
    public void down(boolean isDown) {
        this.down = isDown;
    }

    private static String kind(String path) {
        if (path.equals("/token")) {
            return "token";
        }
        if (path.equals("/v2/") || path.equals("/v2")) {
            return "ping";
        }
        if (path.contains("/manifests/")) {
            return "manifest";
        }
        if (path.contains("/blobs/")) {
            return "blob";
        }
        if (path.endsWith("/tags/list")) {
            return "tags";
        }
        if (path.equals("/v2/_catalog")) {
            return "catalog";
        }
        return "other";
    }

    private void serve(Request request, Response response) throws Exception {
        String path = request.getHttpURI().getPath();
        Call call = new Call(request.getMethod(), kind(path), path, request.getHeaders().get(HttpHeader.AUTHORIZATION));
        calls.add(call);
        counts.computeIfAbsent(call.method() + " " + call.kind(), k -> new AtomicInteger()).incrementAndGet();
        if (down) {
            request.getConnectionMetaData().getConnection().getEndPoint().close();
            throw new IOException("upstream is down");
        }
        if (call.kind().equals("token")) {
            String token = "t-" + id + "-" + tokens.incrementAndGet();
            issued.add(token);
            write(request, response, 200, "application/json", ("{\"token\":\"" + token + "\",\"expires_in\":300}")
                    .getBytes(StandardCharsets.UTF_8));
            return;
        }
        String authorization = request.getHeaders().get(HttpHeader.AUTHORIZATION);
        if (requireToken && (authorization == null || !authorization.startsWith("Bearer ")
                || !issued.contains(authorization.substring(7)))) {
            String scope = call.kind().equals("catalog") ? "registry:catalog:*"
                    : "repository:" + path.replaceFirst("^/v2/(.+)/(manifests|blobs|tags)/.*$", "$1") + ":pull";
            response.getHeaders().put("WWW-Authenticate", "Bearer realm=\"" + uri() + "/token\",service=\"fake-hub\","
                    + "scope=\"" + scope + "\"");
            write(request, response, 401, "application/json", "{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}".getBytes(StandardCharsets.UTF_8));
            return;
        }
        Fault fault = faults.apply(call);
        switch (fault) {
            case STATUS_429 -> {
                response.getHeaders().put("Retry-After", "1");
                write(request, response, 429, "application/json", "{\"errors\":[{\"code\":\"TOOMANYREQUESTS\"}]}".getBytes());
                return;
            }
            case STATUS_500 -> {
                write(request, response, 500, "text/plain", "boom".getBytes());
                return;
            }
            case STATUS_404 -> {
                write(request, response, 404, "application/json", "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\"}]}".getBytes());
                return;
            }
            default -> { }
        }
        HttpRequest.Builder out = HttpRequest.newBuilder(target.resolve(request.getHttpURI().getPathQuery()))
                .method(request.getMethod(), HttpRequest.BodyPublishers.noBody());
        String accept = request.getHeaders().get(HttpHeader.ACCEPT);
        if (accept != null) {
            out.header("Accept", accept);
        }
        HttpResponse<InputStream> upstream = forward.send(out.build(), HttpResponse.BodyHandlers.ofInputStream());
        response.setStatus(upstream.statusCode());
        for (String h : List.of("Content-Type", "Docker-Content-Digest", "Location", "Link")) {
            upstream.headers().firstValue(h).ifPresent(v -> response.getHeaders().put(h, v));
        }
        long length = upstream.headers().firstValueAsLong("Content-Length").orElse(-1);
        if (length >= 0) {
            response.getHeaders().put(HttpHeader.CONTENT_LENGTH, length);
        }
        try (InputStream in = upstream.body(); OutputStream body = Response.asBufferedOutputStream(request, response)) {
            if (request.getMethod().equals("HEAD")) {
                return;
            }
            byte[] bytes = in.readAllBytes();
            switch (fault) {
                case DROP_MID_BODY -> {
                    body.write(bytes, 0, bytes.length / 2);
                    body.flush();
                    request.getConnectionMetaData().getConnection().getEndPoint().close();
                    throw new IOException("dropped on purpose");
                }
                case TRUNCATE -> {
                    body.write(bytes, 0, bytes.length - 1);
                    body.flush();
                    request.getConnectionMetaData().getConnection().getEndPoint().close();
                    throw new IOException("truncated on purpose");
                }
                case WRONG_BYTES -> {
                    bytes[bytes.length / 2] ^= 0x55;
                    body.write(bytes);
                }
                case SLOW_BODY -> {
                    for (int i = 0; i < bytes.length; i += 64 * 1024) {
                        body.write(bytes, i, Math.min(64 * 1024, bytes.length - i));
                        body.flush();
                        Thread.sleep(20);
                    }
                }
                default -> body.write(bytes);
            }
        }
    }

    private static void write(Request request, Response response, int status, String type, byte[] body) throws IOException {
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, type);
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
        try (OutputStream out = Response.asBufferedOutputStream(request, response)) {
            out.write(body);
        }
    }

    @Override
    public void close() throws Exception {
        server.stop();
    }
}
