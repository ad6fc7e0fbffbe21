package dev.berth.testing;

import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;

/**
 * An upstream registry that answers whatever the test scripts, hostile or not, and records what it was asked
 * (with the Authorization header), for tests of how Berth stands up to a registry that lies, stalls or
 * redirects.
 */
public final class ScriptedUpstream implements AutoCloseable {
    /** One request as the upstream saw it. */
    public record Call(String method, String path, String query, String authorization) {
    }

    /** The script: answers one request (the response is completed when it returns). */
    public interface Script {
        void answer(Request request, Response response) throws Exception;
    }

    private final Server server = new Server();
    private final ServerConnector connector;
    private final List<Call> calls = new CopyOnWriteArrayList<>();
    private volatile Script script = (request, response) -> send(response, 404, "application/json",
            "{\"errors\":[{\"code\":\"NAME_UNKNOWN\"}]}");

    public ScriptedUpstream() throws Exception {
        connector = new ServerConnector(server);
        connector.setHost("127.0.0.1");
        server.addConnector(connector);
        server.setStopTimeout(1000);
        server.setHandler(new Handler.Abstract() {
            @Override
            public boolean handle(Request request, Response response, Callback callback) {
                calls.add(new Call(request.getMethod(), request.getHttpURI().getPath(), request.getHttpURI().getQuery(),
                        request.getHeaders().get("Authorization")));
                try {
                    script.answer(request, response);
                    callback.succeeded();
                } catch (Throwable t) {
                    callback.failed(t);
                }
                return true;
            }
        });
        server.start();
    }

    public void script(Script next) {
        this.script = next;
    }

    public URI uri() {
        return URI.create("http://127.0.0.1:" + connector.getLocalPort());
    }

    public List<Call> calls() {
        return List.copyOf(calls);
    }

    public long count(String method, String pathPart) {
        return calls.stream().filter(c -> c.method().equals(method) && c.path().contains(pathPart)).count();
    }

    public void reset() {
        calls.clear();
    }

    /** A whole answer with a body (none for HEAD). */
    public static void send(Response response, int status, String type, String body, String... headers)
            throws Exception {
        send(response, status, type, body.getBytes(StandardCharsets.UTF_8), headers);
    }

    public static void send(Response response, int status, String type, byte[] body, String... headers)
            throws Exception {
        response.setStatus(status);
        if (type != null) {
            response.getHeaders().put("Content-Type", type);
        }
        for (int i = 0; i + 1 < headers.length; i += 2) {
            response.getHeaders().put(headers[i], headers[i + 1]);
        }
        response.getHeaders().put("Content-Length", body.length);
        try (OutputStream out = Content.stream(response)) {
            out.write(body);
        }
    }

    /** The raw output of a response, for scripts that stream, stall or break off. */
    public static final class Content {
        private Content() {
        }

        public static OutputStream stream(Response response) {
            return Response.asBufferedOutputStream(response.getRequest(), response);
        }
    }

    @Override
    public void close() throws Exception {
        try {
            server.stop();
        } catch (java.util.concurrent.TimeoutException stalled) {
            // a script still stalling on purpose; its thread ends with the JVM
        }
    }
}
