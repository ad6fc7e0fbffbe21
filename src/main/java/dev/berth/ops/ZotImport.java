package dev.berth.ops;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.berth.meta.MetadataStore;
import dev.berth.oci.Digest;
import dev.berth.oci.Manifest;
import dev.berth.oci.ManifestParser;
import dev.berth.oci.MediaTypes;
import dev.berth.oci.Names;
import dev.berth.oci.Reference;
import dev.berth.oci.RegistryException;
import dev.berth.registry.Registry;
import dev.berth.registry.TagPolicy;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Brings a zot data directory into Berth: every repository (a directory with {@code oci-layout} and
 * {@code index.json}), every tag ({@code org.opencontainers.image.ref.name}), every untagged manifest and
 * referrer, and every blob they use. Bytes are hashed on the way in and refused when they do not match their
 * digest; manifests go through the same checks as a push. What is already in Berth is skipped, so an import
 * that was interrupted is simply run again.
 */
public final class ZotImport {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String REF_NAME = "org.opencontainers.image.ref.name";

    /** What one repository brought (or could not). */
    public record Outcome(String repository, int tags, int manifests, int blobs, long bytes, int skipped,
                          String failure) {
    }

    private final Registry registry;
    private final MetadataStore meta;
    private final PrintWriter progress;

    public ZotImport(Registry registry, MetadataStore meta, PrintWriter progress) {
        this.registry = registry;
        this.meta = meta;
        this.progress = progress;
    }

    /** Imports every repository under {@code root}; one that fails does not stop the others. */
    public List<Outcome> run(Path root) throws IOException {
        List<Outcome> outcomes = new ArrayList<>();
        for (Path layout : layouts(root)) {
            String repository = root.relativize(layout).toString().replace('\\', '/');
            Outcome outcome;
            try {
                Names.requireRepository(repository);
                outcome = importRepository(repository, layout);
            } catch (RegistryException | IOException | UncheckedIOException e) {
                outcome = new Outcome(repository, 0, 0, 0, 0, 0, e.getMessage());
            }
            progress.println(describe(outcome));
            progress.flush();
            outcomes.add(outcome);
        }
        return outcomes;
    }

    private static String describe(Outcome o) {
        if (o.failure() != null) {
            return o.repository() + ": FAILED: " + o.failure();
        }
        return o.repository() + ": " + o.tags() + " tags, " + o.manifests() + " manifests, " + o.blobs() + " blobs ("
                + o.bytes() + " bytes) imported; " + o.skipped() + " already here";
    }

    /** Directories holding an OCI layout, in a stable order; zot's own bookkeeping is skipped. */
    private static List<Path> layouts(Path root) throws IOException {
        if (!Files.isDirectory(root)) {
            throw new NoSuchFileException(root.toString(), null, "not a directory");
        }
        try (Stream<Path> walk = Files.walk(root)) {
            return walk.filter(Files::isDirectory)
                    .filter(d -> !d.equals(root))
                    .filter(d -> Files.isRegularFile(d.resolve("oci-layout")) && Files.isRegularFile(d.resolve("index.json")))
                    .filter(d -> {
                        for (Path segment : root.relativize(d)) {
                            String name = segment.toString();
                            if (name.startsWith(".") || name.startsWith("_")) {
                                return false; // zot's own: .uploads, .sync (temporary layouts), _sessions
                            }
                        }
                        return true;
                    })
                    .sorted().toList();
        }
    }

    private Outcome importRepository(String repository, Path layout) throws IOException {
        Counts counts = new Counts();
        JsonNode index = JSON.readTree(layout.resolve("index.json").toFile());
        Set<Digest> done = new HashSet<>();
        for (JsonNode descriptor : index.path("manifests")) {
            Digest digest = Digest.parse(descriptor.path("digest").asText());
            String tag = descriptor.path("annotations").path(REF_NAME).asText(null);
            importManifest(repository, layout, digest, descriptor.path("mediaType").asText(null), done, counts, 0);
            if (tag != null) {
                Names.requireTag(tag);
                var current = meta.taggedManifest(repository, tag);
                if (current.isPresent() && current.get().digest().equals(digest)) {
                    counts.skipped++;
                } else {
                    byte[] body = read(layout, digest);
                    // By digest with the tag alongside (?tag=): the digest keeps its own algorithm.
                    registry.manifests().put(repository, Reference.of(digest), List.of(tag),
                            mediaType(descriptor.path("mediaType").asText(null), body), body, TagPolicy.ANY);
                    counts.tags++;
                }
            }
        }
        return new Outcome(repository, counts.tags, counts.manifests, counts.blobs, counts.bytes, counts.skipped, null);
    }

    private static final class Counts {
        int tags;
        int manifests;
        int blobs;
        long bytes;
        int skipped;
    }

    /** A manifest and, first, everything it references: children of an index, then config and layers. */
    private void importManifest(String repository, Path layout, Digest digest, String mediaType, Set<Digest> done,
                                Counts counts, int depth) throws IOException {
        if (!done.add(digest)) {
            return;
        }
        if (depth > 8) {
            throw new IOException("indexes nest deeper than any image does at " + digest);
        }
        if (meta.manifest(repository, digest).isPresent()) {
            counts.skipped++;
            return;
        }
        byte[] body = read(layout, digest);
        String type = mediaType(mediaType, body);
        Manifest manifest = ManifestParser.parse(body, type);
        for (var child : manifest.manifests()) {
            importManifest(repository, layout, child.digest(), child.mediaType(), done, counts, depth + 1);
        }
        for (var blob : manifest.references()) {
            if (manifest.manifests().contains(blob)) {
                continue;
            }
            importBlob(repository, layout, blob.digest(), MediaTypes.isNonDistributable(blob.mediaType()), counts);
        }
        registry.manifests().put(repository, Reference.of(digest), List.of(), type, body, TagPolicy.ANY);
        counts.manifests++;
    }

    private void importBlob(String repository, Path layout, Digest digest, boolean optional, Counts counts)
            throws IOException {
        if (meta.linkedBlobSize(repository, digest).isPresent()) {
            counts.skipped++;
            return;
        }
        Path file = blobFile(layout, digest);
        if (!Files.isRegularFile(file)) {
            if (optional) {
                return; // non-distributable layers are often not in the layout, and need not be
            }
            throw new IOException("blob " + digest + " is missing from " + layout);
        }
        try (InputStream in = Files.newInputStream(file)) {
            counts.bytes += registry.uploads().putWhole(repository, digest, in); // hashed and checked on the way
        }
        counts.blobs++;
    }

    private static byte[] read(Path layout, Digest digest) throws IOException {
        Path file = blobFile(layout, digest);
        if (Files.size(file) > dev.berth.registry.Manifests.MAX_SIZE) {
            throw new IOException("manifest " + digest + " is larger than Berth accepts");
        }
        return Files.readAllBytes(file);
    }

    private static Path blobFile(Path layout, Digest digest) {
        return layout.resolve("blobs").resolve(digest.algorithm().label()).resolve(digest.hex());
    }

    /** The media type as the index says, else as the manifest itself says. */
    private static String mediaType(String declared, byte[] body) throws IOException {
        if (declared != null && !declared.isBlank()) {
            return declared;
        }
        String own = JSON.readTree(body).path("mediaType").asText(null);
        return own != null ? own : MediaTypes.OCI_MANIFEST;
    }
}
