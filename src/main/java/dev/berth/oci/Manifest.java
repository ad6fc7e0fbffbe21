package dev.berth.oci;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What the registry needs to know of a pushed manifest: its media type, what it references and its referrer
 * fields. The bytes themselves are kept separately and served exactly as pushed.
 */
public record Manifest(String mediaType, Descriptor config, List<Descriptor> layers, List<Descriptor> manifests,
                       Descriptor subject, String artifactType, Map<String, String> annotations) {
    public Manifest {
        layers = List.copyOf(layers);
        manifests = List.copyOf(manifests);
        annotations = annotations == null ? Map.of() : Map.copyOf(annotations);
    }

    public boolean isIndex() {
        return MediaTypes.isIndex(mediaType);
    }

    /**
     * The {@code artifactType} a referrers list shows for this manifest: its own, else (for an image manifest)
     * the config's media type, else none.
     */
    public String referrerArtifactType() {
        if (artifactType != null && !artifactType.isEmpty()) {
            return artifactType;
        }
        return config == null ? null : config.mediaType();
    }

    /** Every descriptor this manifest points at (config, layers or child manifests), subject excluded. */
    public List<Descriptor> references() {
        List<Descriptor> all = new ArrayList<>(layers.size() + manifests.size() + 1);
        if (config != null) {
            all.add(config);
        }
        all.addAll(layers);
        all.addAll(manifests);
        return all;
    }
}
