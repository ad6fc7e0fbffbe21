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
import java.nio.file.LinkOption;
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
                          List<String> conflicts, String failure) {
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
                outcome = new Outcome(repository, 0, 0, 0, 0, 0, List.of(), e.getMessage());
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
        String line = o.repository() + ": " + o.tags() + " tags, " + o.manifests() + " manifests, " + o.blobs()
                + " blobs (" + o.bytes() + " bytes) imported; " + o.skipped() + " tags, manifests and blobs were already in Berth";
        for (String conflict : o.conflicts()) {
            line += "\n  " + conflict;
        }
        return line;
    }

    /** Directories holding an OCI layout, in a stable order; zot's own bookkeeping is skipped. */
    private static List<Path> layouts(Path root) throws IOException {
        if (!Files.isDirectory(root)) {
            throw new NoSuchFileException(root.toString(), null, "not a directory");
        }
        try (Stream<Path> walk = Files.walk(root)) {
            // Links are not followed: a layout, and every file in it, must really be under the root.
            return walk.filter(d -> Files.isDirectory(d, LinkOption.NOFOLLOW_LINKS))
                    .filter(d -> !d.equals(root))
                    .filter(d -> Files.isRegularFile(d.resolve("oci-layout"), LinkOption.NOFOLLOW_LINKS)
                            && Files.isRegularFile(d.resolve("index.json"), LinkOption.NOFOLLOW_LINKS))
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
        Path indexFile = layout.resolve("index.json");
        if (Files.size(indexFile) > dev.berth.registry.Manifests.MAX_SIZE) {
            throw new IOException("index.json is larger than any index Berth accepts");
        }
        JsonNode index;
        try {
            index = JSON.readTree(Files.readAllBytes(indexFile));
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new IOException(indexFile + " is not valid JSON: " + e.getOriginalMessage());
        }
        List<String> conflicts = new ArrayList<>();
        Set<Digest> done = new HashSet<>();
        for (JsonNode descriptor : index.path("manifests")) {
            Digest digest = Digest.parse(descriptor.path("digest").asText());
            long size = descriptor.path("size").asLong(-1);
            String tag = descriptor.path("annotations").path(REF_NAME).asText(null);
            importManifest(repository, layout, digest, size, descriptor.path("mediaType").asText(null), done, counts, 0);
            if (tag != null) {
                Names.requireTag(tag);
                var current = meta.taggedManifest(repository, tag);
                if (current.isPresent() && current.get().digest().equals(digest)) {
                    counts.skipped++;
                } else if (current.isPresent()) {
                    // Pushed to Berth since (or before): Berth's tag wins, and an import run again never moves it.
                    conflicts.add("tag " + tag + " kept as it is in Berth (" + current.get().digest() + "); zot's "
                            + digest + " was imported untagged");
                } else {
                    byte[] body = read(layout, digest, size);
                    // By digest with the tag alongside (?tag=): the digest keeps its own algorithm.
                    registry.manifests().put(repository, Reference.of(digest), List.of(tag),
                            mediaType(descriptor.path("mediaType").asText(null), body), body, TagPolicy.ANY);
                    counts.tags++;
                }
            }
        }
        return new Outcome(repository, counts.tags, counts.manifests, counts.blobs, counts.bytes, counts.skipped,
                conflicts, null);
    }

    private static final class Counts {
        int tags;
        int manifests;
        int blobs;
        long bytes;
        int skipped;
    }

    /** A manifest and, first, everything it references: children of an index, then config and layers. */
    private void importManifest(String repository, Path layout, Digest digest, long size, String mediaType,
                                Set<Digest> done, Counts counts, int depth) throws IOException {
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
        byte[] body = read(layout, digest, size);
        String type = mediaType(mediaType, body);
        Manifest manifest = ManifestParser.parse(body, type);
        for (var child : manifest.manifests()) {
            importManifest(repository, layout, child.digest(), child.size(), child.mediaType(), done, counts, depth + 1);
        }
        for (var blob : manifest.references()) {
            if (manifest.manifests().contains(blob)) {
                continue;
            }
            importBlob(repository, layout, blob.digest(), blob.size(), MediaTypes.isNonDistributable(blob.mediaType()),
                    counts);
        }
        registry.manifests().put(repository, Reference.of(digest), List.of(), type, body, TagPolicy.ANY);
        counts.manifests++;
    }

    private void importBlob(String repository, Path layout, Digest digest, long size, boolean optional, Counts counts)
            throws IOException {
        if (meta.linkedBlobSize(repository, digest).isPresent()) {
            counts.skipped++;
            return;
        }
        Path file = blobFile(layout, digest);
        if (optional && !Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
            return; // non-distributable layers are often not in the layout, and need not be
        }
        checkFile(file, digest, size);
        try (InputStream in = Files.newInputStream(file, LinkOption.NOFOLLOW_LINKS)) {
            counts.bytes += registry.uploads().putWhole(repository, digest, in); // hashed and checked on the way
        } catch (RegistryException e) {
            throw new IOException(file + ": " + e.getMessage());
        }
        counts.blobs++;
    }

    private static byte[] read(Path layout, Digest digest, long size) throws IOException {
        Path file = blobFile(layout, digest);
        checkFile(file, digest, size);
        if (Files.size(file) > dev.berth.registry.Manifests.MAX_SIZE) {
            throw new IOException("manifest " + digest + " is larger than Berth accepts");
        }
        return Files.readAllBytes(file);
    }

    /**
     * A blob file must be a plain file (not a link, device or pipe) of the size its descriptor declares (when it
     * declares one): checked before a byte is read, so a hostile layout cannot make the import read forever.
     */
    private static void checkFile(Path file, Digest digest, long size) throws IOException {
        if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException("blob " + digest + " is missing from the layout");
        }
        if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException("blob " + digest + " is not a plain file (links are not followed)");
        }
        long actual = Files.size(file);
        if (size >= 0 && actual != size) {
            throw new IOException("blob " + digest + " holds " + actual + " bytes where its descriptor says " + size);
        }
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
