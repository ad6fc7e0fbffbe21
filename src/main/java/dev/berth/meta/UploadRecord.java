package dev.berth.meta;

import dev.berth.oci.DigestAlgorithm;
import java.time.Instant;

/** An upload session: which repository it belongs to and when it started. */
public record UploadRecord(String id, String repository, DigestAlgorithm algorithm, Instant startedAt) {
}
