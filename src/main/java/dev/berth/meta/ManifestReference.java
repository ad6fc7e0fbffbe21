package dev.berth.meta;

import dev.berth.oci.Digest;

/**
 * Something a manifest points at. A {@code MANIFEST} reference must be a manifest of the same repository; a
 * {@code BLOB} reference any content the repository holds. Optional references (non-distributable layers) are
 * recorded but need not be present.
 */
public record ManifestReference(Digest digest, Kind kind, long size, boolean required) {
    public enum Kind { BLOB, MANIFEST }
}
