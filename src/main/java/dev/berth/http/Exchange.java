package dev.berth.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.berth.access.Identity;
import dev.berth.oci.ErrorCode;
import dev.berth.oci.RegistryException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.FormFields;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Blocker;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.Fields;

/**
 * One request and its response, as handlers see them. Handlers run on virtual threads and block freely; every
 * way of answering here completes the exchange exactly once. HEAD answers carry the headers GET would, no body.
 */
final class Exchange {
    static final ObjectMapper JSON = new ObjectMapper();
    /** Of a body an answer did not need, how much is read (and how long waited for) to keep the connection. */
    private static final long DRAIN_BYTES = 1024 * 1024;
    private static final Duration DRAIN_WAIT = Duration.ofSeconds(2);

    private final Request request;
    private final Response response;
    private final Callback callback;
    private final String path;
    private Fields query;
    private Identity identity = Identity.ANONYMOUS;
    /** Whether a handler opened the body: until then a client that expects 100-continue has sent none of it. */
    private boolean bodyAskedFor;
    private String repository;

    Exchange(Request request, Response response, Callback callback) {
        this.request = request;
        this.response = response;
        this.callback = callback;
        this.path = Request.getPathInContext(request);
    }

    String method() {
        return request.getMethod();
    }

    /** Who is calling, once the router has asked; anonymous until then. */
    Identity identity() {
        return identity;
    }

    void identity(Identity who) {
        this.identity = who;
        request.setAttribute(AccessLog.IDENTITY_ATTRIBUTE, who);
    }

    String path() {
        return path;
    }

    /** The local repository the request addresses, once the router has worked it out; null otherwise. */
    String repository() {
        return repository;
    }

    void repository(String name) {
        this.repository = name;
    }

    boolean isHead() {
        return HttpMethod.HEAD.is(request.getMethod());
    }

    String header(String name) {
        return request.getHeaders().get(name);
    }

    /** The first value of a query parameter, or null. */
    String query(String name) {
        Fields.Field field = queryFields().get(name);
        return field == null ? null : field.getValue();
    }

    List<String> queryValues(String name) {
        Fields.Field field = queryFields().get(name);
        return field == null ? List.of() : field.getValues();
    }

    boolean hasQuery(String name) {
        return queryFields().get(name) != null;
    }

    private Fields queryFields() {
        if (query == null) {
            query = Request.extractQueryParameters(request);
        }
        return query;
    }

    /** The request body's declared length, or -1 when it is streamed without one. */
    long contentLength() {
        return request.getLength();
    }

    /** The request body; if the client breaks it, the error is answered with {@code code}. */
    InputStream body(ErrorCode code) {
        bodyAskedFor = true;
        return new RequestBody(Request.asInputStream(request), code);
    }

    /** The body as a form (application/x-www-form-urlencoded), within Jetty's limits on fields and length. */
    Fields formFields(int maxFields, int maxLength) {
        bodyAskedFor = true;
        return FormFields.getFields(request, maxFields, maxLength);
    }

    /**
     * Reads the whole body, refusing more than {@code limit} bytes with a 413. A body up to a few times too
     * large is read to its end first, so that the client, still sending, is there to receive the answer.
     */
    byte[] bodyBytes(int limit, ErrorCode code) throws IOException {
        long declared = contentLength();
        long drainable = 4L * limit;
        try (InputStream in = body(code)) {
            if (declared > limit) {
                if (declared <= drainable) {
                    drain(in, drainable);
                }
                throw tooLarge(code, limit);
            }
            byte[] bytes = in.readNBytes(limit + 1);
            if (bytes.length > limit) {
                drain(in, drainable);
                throw tooLarge(code, limit);
            }
            return bytes;
        }
    }

    /**
     * Before any answer: reads what the client is still sending of a body the answer does not need (a refused
     * push, a form refused as from another site), so that the connection can carry the next request. When too
     * much is left the answer says the connection closes: Jetty would close it anyway, and a client that reuses
     * a connection whose answer came early, unwarned, finds it gone and fails a request it never got to send.
     */
    private void settleRequestBody() {
        if (!drainUnreadBody()) {
            response.getHeaders().put(HttpHeader.CONNECTION, "close");
        }
    }

    /**
     * Reads and discards the rest of the body, as long as it comes promptly: at most {@link #DRAIN_BYTES}, waiting
     * at most {@link #DRAIN_WAIT} in all, so that an answer is never held by a client that sends slowly or not at
     * all. True if the body ended within them.
     */
    private boolean drainUnreadBody() {
        if (request.getLength() == 0 || isHead() || HttpMethod.GET.is(request.getMethod())) {
            return true;
        }
        if (!bodyAskedFor && request.getHeaders().contains(HttpHeader.EXPECT, "100-continue")) {
            return false; // the client waits to be asked for its body; reading would ask for it, in vain
        }
        long deadline = System.nanoTime() + DRAIN_WAIT.toNanos();
        long drained = 0;
        while (true) {
            Content.Chunk chunk = request.read();
            if (chunk == null) {
                if (!awaitContent(deadline)) {
                    return false;
                }
                continue;
            }
            try {
                if (Content.Chunk.isFailure(chunk)) {
                    return false;
                }
                if (chunk.isLast()) {
                    return true;
                }
                drained += chunk.remaining();
                if (drained > DRAIN_BYTES) {
                    return false;
                }
            } finally {
                chunk.release();
            }
        }
    }

    /**
     * Waits a little for more of the body, false once the deadline has passed. It polls rather than asking Jetty
     * to call back: a demand still pending when the answer goes out would fail the answer.
     */
    private static boolean awaitContent(long deadline) {
        if (System.nanoTime() >= deadline) {
            return false;
        }
        try {
            Thread.sleep(5);
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** Reads and discards up to {@code atMost} bytes; true if the stream ended within them. */
    private static boolean drain(InputStream in, long atMost) throws IOException {
        byte[] sink = new byte[64 * 1024];
        long read = 0;
        int n;
        while ((n = in.read(sink)) >= 0) {
            read += n;
            if (read > atMost) {
                return false;
            }
        }
        return true;
    }

    private static RegistryException tooLarge(ErrorCode code, int limit) {
        return RegistryException.of(code, 413, "request body larger than " + limit + " bytes");
    }

    Exchange header(String name, String value) {
        response.getHeaders().put(name, value);
        return this;
    }

    Exchange addHeader(String name, String value) {
        response.getHeaders().add(name, value);
        return this;
    }

    Response response() {
        return response;
    }

    Request request() {
        return request;
    }

    /** Answers with no body. */
    void send(int status) {
        settleRequestBody();
        response.setStatus(status);
        if (status != 304) {
            // A 304 may only carry the length of the 200 it stands for, so it carries none.
            response.getHeaders().put(HttpHeader.CONTENT_LENGTH, 0L);
        }
        callback.succeeded();
    }

    /** Answers with a body (left out for HEAD, whose Content-Length still says how long it would be). */
    void send(int status, String contentType, byte[] body) {
        settleRequestBody();
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, contentType);
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
        if (isHead() || body.length == 0) {
            callback.succeeded();
        } else {
            response.write(true, ByteBuffer.wrap(body), callback);
        }
    }

    void sendJson(int status, Object value) {
        sendJson(status, "application/json", value);
    }

    void sendJson(int status, String contentType, Object value) {
        try {
            send(status, contentType, JSON.writeValueAsBytes(value));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("response is not serialisable", e);
        }
    }

    /** Writes part of a streamed body, blocking until it is on its way; a failure means the client left. */
    void write(ByteBuffer buffer) throws IOException {
        try (Blocker.Callback blocker = Blocker.callback()) {
            response.write(false, buffer, blocker);
            blocker.block();
        } catch (IOException e) {
            throw RequestBody.ClientFault.gone(e);
        }
    }

    /** Ends an exchange that cannot be answered any more (the client has gone). */
    void abort(Throwable cause) {
        callback.failed(cause);
    }

    /** Ends a streamed body. */
    void end() {
        response.write(true, null, callback);
    }

    /** Answers with an error in the spec's JSON format, or breaks the connection if the answer has begun. */
    void fail(RegistryException e) {
        if (response.isCommitted()) {
            callback.failed(e);
            return;
        }
        response.reset();
        Router.addApiVersion(this);
        // Messages may quote what was sent: never let a browser read them as anything but JSON.
        response.getHeaders().put("X-Content-Type-Options", "nosniff");
        e.headers().forEach(response.getHeaders()::put);
        sendJson(e.status(), errorBody(e.code().name(), e.getMessage()));
    }

    /** Answers 500, or breaks the connection if the answer has begun. */
    void failInternally(Throwable cause) {
        if (response.isCommitted()) {
            callback.failed(cause);
            return;
        }
        response.reset();
        Router.addApiVersion(this);
        sendJson(500, errorBody("UNKNOWN", "internal server error; the registry log has the details"));
    }

    static Map<String, Object> errorBody(String code, String message) {
        Map<String, Object> error = new LinkedHashMap<>();
        error.put("code", code);
        error.put("message", message == null ? "" : message);
        error.put("detail", Map.of());
        return Map.of("errors", List.of(error));
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
