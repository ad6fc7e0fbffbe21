package dev.berth.registry;

import dev.berth.oci.Digest;

/** A manifest ready to serve: its digest, stored media type and the exact bytes that were pushed. */
public record StoredManifest(Digest digest, String mediaType, long size, byte[] content) {
}
