package dev.berth.registry;

import dev.berth.oci.Digest;
import java.util.List;

/** The result of a manifest push: its digest, its subject (for referrers) and the tags now pointing at it. */
public record PushedManifest(Digest digest, Digest subject, List<String> tags) {
}
