package dev.berth.proxy;

import java.time.Duration;

/** An upstream registry did not give what was asked: why, in a form the pull-through can act on. */
public final class UpstreamException extends Exception {
    /** What went wrong, as far as serving a stale copy or answering the client goes. */
    public enum Kind {
        /** The upstream does not have it (404). */
        NOT_FOUND,
        /** The upstream refused Berth's credentials, or wants some it does not have (401, 403). */
        REFUSED,
        /** The upstream asks to slow down (429). */
        RATE_LIMITED,
        /** The upstream failed (5xx) or could not be reached. */
        UNAVAILABLE,
        /** The upstream sent something that is not what it claims (wrong digest, bad manifest). */
        INVALID
    }

    private final Kind kind;
    private final int status;
    private final Duration retryAfter;

    public UpstreamException(Kind kind, int status, String message, Duration retryAfter, Throwable cause) {
        super(message, cause, false, false);
        this.kind = kind;
        this.status = status;
        this.retryAfter = retryAfter;
    }

    public UpstreamException(Kind kind, int status, String message) {
        this(kind, status, message, null, null);
    }

    public Kind kind() {
        return kind;
    }

    public int status() {
        return status;
    }

    public Duration retryAfter() {
        return retryAfter;
    }

    static Kind ofStatus(int status) {
        if (status == 404) {
            return Kind.NOT_FOUND;
        }
        if (status == 401 || status == 403) {
            return Kind.REFUSED;
        }
        if (status == 429) {
            return Kind.RATE_LIMITED;
        }
        return Kind.UNAVAILABLE;
    }
}
