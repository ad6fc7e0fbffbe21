package dev.berth.testing;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.berth.oci.Digest;
import dev.berth.oci.DigestAlgorithm;
import dev.berth.oci.MediaTypes;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ThreadLocalRandom;
import java.util.zip.GZIPOutputStream;

/** Builds valid test images in memory (and as OCI layouts on disk for command-line clients). */
public final class TestImages {
    private static final ObjectMapper JSON = new ObjectMapper();
    public static final String CONFIG_TYPE = "application/vnd.oci.image.config.v1+json";
    public static final String LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip";

    private TestImages() {
    }

    /** A manifest (or index) and the blobs it needs, with the manifest's media type. */
    public record Image(String mediaType, byte[] manifest, List<byte[]> blobs, Digest digest) {
        public Descriptor descriptor() {
            return new Descriptor(mediaType, digest, manifest.length);
        }
    }

    public record Descriptor(String mediaType, Digest digest, long size) {
    }

    public static byte[] randomBytes(int size) {
        byte[] bytes = new byte[size];
        ThreadLocalRandom.current().nextBytes(bytes);
        return bytes;
    }

    public static byte[] randomBytes(int size, long seed) {
        byte[] bytes = new byte[size];
        new Random(seed).nextBytes(bytes);
        return bytes;
    }

    public static Digest sha256(byte[] content) {
        return Digest.compute(DigestAlgorithm.SHA256, content);
    }

    /** An OCI image of {@code layers} random layers of {@code layerSize} bytes. */
    public static Image image(int layers, int layerSize) {
        return image(layers, layerSize, MediaTypes.OCI_MANIFEST, "amd64", null, null, Map.of());
    }

    public static Image image(int layers, int layerSize, String mediaType, String architecture,
                              String artifactType, Descriptor subject, Map<String, String> annotations) {
        boolean docker = MediaTypes.DOCKER_MANIFEST.equals(mediaType);
        List<byte[]> blobs = new ArrayList<>();
        ArrayNode layerNodes = JSON.createArrayNode();
        ArrayNode diffIds = JSON.createArrayNode();
        for (int i = 0; i < layers; i++) {
            byte[] tar = tar("file" + i + ".bin", randomBytes(layerSize));
            byte[] layer = gzip(tar);
            blobs.add(layer);
            diffIds.add(sha256(tar).toString());
            layerNodes.add(descriptor(docker ? "application/vnd.docker.image.rootfs.diff.tar.gzip" : LAYER_TYPE, layer));
        }
        ObjectNode config = JSON.createObjectNode();
        config.put("architecture", architecture).put("os", "linux").put("created", "2026-01-01T00:00:00Z");
        config.putObject("config").putArray("Env").add("PATH=/usr/bin:/bin");
        config.putObject("rootfs").put("type", "layers").set("diff_ids", diffIds);
        byte[] configBytes = bytes(config);
        blobs.add(configBytes);
        ObjectNode manifest = JSON.createObjectNode();
        manifest.put("schemaVersion", 2).put("mediaType", mediaType);
        if (artifactType != null) {
            manifest.put("artifactType", artifactType);
        }
        manifest.set("config", descriptor(docker ? "application/vnd.docker.container.image.v1+json" : CONFIG_TYPE, configBytes));
        manifest.set("layers", layerNodes);
        if (subject != null) {
            manifest.set("subject", descriptorNode(subject));
        }
        if (!annotations.isEmpty()) {
            ObjectNode a = manifest.putObject("annotations");
            annotations.forEach(a::put);
        }
        byte[] manifestBytes = bytes(manifest);
        return new Image(mediaType, manifestBytes, blobs, sha256(manifestBytes));
    }

    /** An index over images (their blobs are not included: push the children first). */
    public static Image index(String mediaType, List<Image> children, List<String> architectures) {
        ObjectNode index = JSON.createObjectNode();
        index.put("schemaVersion", 2).put("mediaType", mediaType);
        ArrayNode manifests = index.putArray("manifests");
        for (int i = 0; i < children.size(); i++) {
            ObjectNode d = descriptorNode(children.get(i).descriptor());
            d.putObject("platform").put("os", "linux").put("architecture", architectures.get(i));
            manifests.add(d);
        }
        byte[] bytes = bytes(index);
        return new Image(mediaType, bytes, List.of(), sha256(bytes));
    }

    public static ObjectNode descriptor(String mediaType, byte[] content) {
        return descriptorNode(new Descriptor(mediaType, sha256(content), content.length));
    }

    private static ObjectNode descriptorNode(Descriptor d) {
        ObjectNode node = JSON.createObjectNode();
        node.put("mediaType", d.mediaType()).put("digest", d.digest().toString()).put("size", d.size());
        return node;
    }

    public static byte[] bytes(Object json) {
        try {
            return JSON.writeValueAsBytes(json);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A one-file tar archive (ustar), enough for a real layer. */
    public static byte[] tar(String name, byte[] content) {
        byte[] header = new byte[512];
        put(header, 0, name);
        put(header, 100, "0000644");
        put(header, 108, "0000000");
        put(header, 116, "0000000");
        put(header, 124, String.format("%011o", content.length));
        put(header, 136, String.format("%011o", 0));
        for (int i = 148; i < 156; i++) {
            header[i] = ' ';
        }
        header[156] = '0';
        put(header, 257, "ustar");
        put(header, 263, "00");
        int sum = 0;
        for (byte b : header) {
            sum += b & 0xff;
        }
        put(header, 148, String.format("%06o", sum));
        header[154] = 0;
        header[155] = ' ';
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(header);
        out.writeBytes(content);
        out.writeBytes(new byte[(512 - content.length % 512) % 512]);
        out.writeBytes(new byte[1024]);
        return out.toByteArray();
    }

    private static void put(byte[] header, int offset, String value) {
        byte[] b = value.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(b, 0, header, offset, b.length);
    }

    public static byte[] gzip(byte[] content) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(content);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /**
     * Writes an OCI image layout holding {@code top} (an image or an index over {@code children}) under
     * {@code tag}, for {@code skopeo copy oci:DIR:TAG ...}.
     */
    public static void writeLayout(Path dir, String tag, Image top, List<Image> children) throws IOException {
        Path blobs = Files.createDirectories(dir.resolve("blobs/sha256"));
        Files.writeString(dir.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
        List<Image> all = new ArrayList<>(children);
        all.add(top);
        for (Image image : all) {
            Files.write(blobs.resolve(image.digest().hex()), image.manifest());
            for (byte[] blob : image.blobs()) {
                Files.write(blobs.resolve(sha256(blob).hex()), blob);
            }
        }
        ObjectNode index = JSON.createObjectNode();
        index.put("schemaVersion", 2).put("mediaType", MediaTypes.OCI_INDEX);
        ObjectNode d = descriptorNode(top.descriptor());
        d.putObject("annotations").put("org.opencontainers.image.ref.name", tag);
        index.putArray("manifests").add(d);
        Files.write(dir.resolve("index.json"), bytes(index));
    }
}
