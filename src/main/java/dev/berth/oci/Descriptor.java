package dev.berth.oci;

import java.util.List;
import java.util.Map;

/** An OCI content descriptor as it appears in a manifest. */
public record Descriptor(String mediaType, Digest digest, long size, String artifactType,
                         Map<String, String> annotations, List<String> urls) {
    public Descriptor {
        annotations = annotations == null ? Map.of() : Map.copyOf(annotations);
        urls = urls == null ? List.of() : List.copyOf(urls);
    }
}
