package dev.berth.oci;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The one exception type of the registry: an OCI error code, the HTTP status to send, a message for the
 * client and, where the protocol needs them, response headers (for instance {@code Range} on a 416).
 */
public final class RegistryException extends RuntimeException {
    private final ErrorCode code;
    private final int status;
    private final Map<String, String> headers = new LinkedHashMap<>();

    private RegistryException(ErrorCode code, int status, String message) {
        super(message, null, false, false);
        this.code = code;
        this.status = status;
    }

    public static RegistryException of(ErrorCode code, String message) {
        return new RegistryException(code, code.status(), message);
    }

    public static RegistryException of(ErrorCode code, int status, String message) {
        return new RegistryException(code, status, message);
    }

    public RegistryException withHeader(String name, String value) {
        headers.put(name, value);
        return this;
    }

    public ErrorCode code() {
        return code;
    }

    public int status() {
        return status;
    }

    public Map<String, String> headers() {
        return headers;
    }
}
