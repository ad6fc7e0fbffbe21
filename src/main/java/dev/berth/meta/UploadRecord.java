package dev.berth.meta;

import dev.berth.oci.DigestAlgorithm;
import java.time.Instant;

/** An upload session: which repository it belongs to, who opened it (null: anonymously), and when. */
public record UploadRecord(String id, String repository, DigestAlgorithm algorithm, String owner, Instant startedAt) {
}
