package dev.berth.http;

import dev.berth.oci.ErrorCode;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import org.eclipse.jetty.http.HttpException;

/**
 * A request body as a stream. Whatever goes wrong while reading it is the client's doing (it disconnected, timed
 * out or sent malformed chunked encoding), so every failure becomes a {@link ClientFault} that the router answers
 * with a 400, or quietly drops when nobody is left to answer, instead of a logged 500.
 */
final class RequestBody extends FilterInputStream {
    private final ErrorCode code;

    RequestBody(InputStream in, ErrorCode code) {
        super(in);
        this.code = code;
    }

    @Override
    public int read() throws IOException {
        try {
            return super.read();
        } catch (IOException | RuntimeException e) {
            throw fault(e);
        }
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        try {
            return super.read(b, off, len);
        } catch (IOException | RuntimeException e) {
            throw fault(e);
        }
    }

    private ClientFault fault(Exception e) {
        if (e instanceof HttpException || e.getCause() instanceof HttpException) {
            String reason = HttpException.asHttpException(e).getReason();
            return ClientFault.malformed(code, reason == null ? "unreadable body" : reason, e);
        }
        return ClientFault.gone(e);
    }

    /** The client broke its request: it sent a malformed body, or it went away. */
    static final class ClientFault extends IOException {
        final ErrorCode code;

        private ClientFault(ErrorCode code, String message, Throwable cause) {
            super(message, cause);
            this.code = code;
        }

        static ClientFault malformed(ErrorCode code, String message, Throwable cause) {
            return new ClientFault(code, message, cause);
        }

        static ClientFault gone(Throwable cause) {
            return new ClientFault(null, null, cause);
        }

        boolean disconnected() {
            return code == null;
        }
    }
}
