package dev.berth.meta;

import dev.berth.oci.Digest;
import java.time.Instant;
import java.util.Map;

/**
 * A manifest as the registry knows it in one repository. {@code artifactType} is the type a referrers list
 * shows (the manifest's own, else its config's media type); {@code subject} is set for referrers.
 */
public record ManifestRecord(String repository, Digest digest, String mediaType, long size, String artifactType,
                             Digest subject, Map<String, String> annotations, Instant pushedAt) {
    public ManifestRecord {
        annotations = annotations == null ? Map.of() : Map.copyOf(annotations);
    }
}
