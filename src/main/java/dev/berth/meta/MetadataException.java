package dev.berth.meta;

/** The database failed; a server-side error, never the client's fault. */
public final class MetadataException extends RuntimeException {
    public MetadataException(String message, Throwable cause) {
        super(message, cause);
    }
}
