package dev.berth.http;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;

/**
 * Errors that Jetty raises before a request reaches the router (an ambiguous or over-long URI, oversized
 * headers, a malformed request line) answered in the spec's JSON format instead of an HTML page.
 */
final class JsonErrorHandler extends ErrorHandler {
    @Override
    protected void generateResponse(Request request, Response response, int code, String message, Throwable cause,
                                    Callback callback) {
        byte[] body = body(message);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
        response.getHeaders().put("Docker-Distribution-API-Version", "registry/2.0");
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
        response.write(true, ByteBuffer.wrap(body), callback);
    }

    @Override
    public ByteBuffer badMessageError(int status, String reason, HttpFields.Mutable fields) {
        fields.put(HttpHeader.CONTENT_TYPE, "application/json");
        fields.put("Docker-Distribution-API-Version", "registry/2.0");
        return ByteBuffer.wrap(body(reason));
    }

    private static byte[] body(String message) {
        String text = message == null || message.isBlank() ? "request refused" : message;
        try {
            return Exchange.JSON.writeValueAsBytes(Exchange.errorBody("UNSUPPORTED", "malformed request: " + text));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            return "{\"errors\":[{\"code\":\"UNSUPPORTED\"}]}".getBytes(StandardCharsets.UTF_8);
        }
    }
}
