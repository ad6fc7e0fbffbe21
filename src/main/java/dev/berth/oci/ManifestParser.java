package dev.berth.oci;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads and validates a pushed manifest: OCI image manifest and index, Docker schema 2 manifest and manifest
 * list. Everything else (Docker schema 1 among them) is refused with {@code MANIFEST_INVALID} and a message that
 * says why. Unknown fields are allowed, as the image spec requires; duplicate keys are not, because two parsers
 * could read different values from one document.
 */
public final class ManifestParser {
    private static final JsonMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();
    /** Far above any real manifest (a thousand layers is a few thousand tokens); bounds the memory a tree takes. */
    static final int MAX_TOKENS = 100_000;
    private static final Set<String> MANIFEST_FIELDS = Set.of("schemaVersion", "mediaType", "artifactType", "config",
            "layers", "manifests", "subject", "annotations");
    private static final Set<String> DESCRIPTOR_FIELDS = Set.of("mediaType", "digest", "size", "urls", "annotations",
            "data", "artifactType", "platform");

    private ManifestParser() {
    }

    /**
     * @param body        the manifest bytes exactly as pushed
     * @param contentType the request's Content-Type header, or null
     */
    public static Manifest parse(byte[] body, String contentType) {
        JsonNode root = readJson(body);
        if (root == null || !root.isObject()) {
            throw invalid("manifest must be a JSON object");
        }
        checkFieldSpelling(root, MANIFEST_FIELDS, "");
        String declared = optionalString(root, "mediaType", "");
        if (declared != null && declared.isEmpty()) {
            declared = null;
        }
        String header = MediaTypes.essence(contentType);
        if (MediaTypes.isSchema1(declared) || MediaTypes.isSchema1(header)
                || (root.path("schemaVersion").isInt() && root.get("schemaVersion").intValue() == 1)) {
            throw invalid("Docker schema 1 manifests are not supported; push Docker schema 2 or OCI instead");
        }
        JsonNode version = root.get("schemaVersion");
        if (version == null || !version.isInt() || version.intValue() != 2) {
            throw invalid("schemaVersion must be 2");
        }
        String mediaType = chooseMediaType(root, declared, header);
        Descriptor subject = root.has("subject") ? descriptor(root.get("subject"), "subject") : null;
        String artifactType = optionalString(root, "artifactType", "");
        Map<String, String> annotations = annotations(root.get("annotations"), "annotations");
        if (MediaTypes.isIndex(mediaType)) {
            List<Descriptor> children = descriptors(root, "manifests");
            return new Manifest(mediaType, null, List.of(), children, subject, artifactType, annotations);
        }
        if (!root.has("config")) {
            throw invalid("config: required");
        }
        Descriptor config = descriptor(root.get("config"), "config");
        List<Descriptor> layers = descriptors(root, "layers");
        return new Manifest(mediaType, config, layers, List.of(), subject, artifactType, annotations);
    }

    /**
     * Reads the document the way the Go clients that will pull it do, or refuses it: UTF-8 without a byte-order
     * mark, exactly one JSON value, no duplicate keys. Anything two parsers could read differently is refused,
     * so that what Berth validated is what every client sees.
     */
    private static JsonNode readJson(byte[] body) {
        if (body.length >= 3 && (body[0] & 0xff) == 0xef && (body[1] & 0xff) == 0xbb && (body[2] & 0xff) == 0xbf) {
            throw invalid("manifest must be UTF-8 without a byte-order mark");
        }
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(body)).toString();
        } catch (CharacterCodingException e) {
            throw invalid("manifest is not valid UTF-8");
        }
        try {
            try (JsonParser tokens = JSON.createParser(text)) {
                int count = 0;
                while (tokens.nextToken() != null) {
                    if (++count > MAX_TOKENS) {
                        throw invalid("manifest has more than " + MAX_TOKENS + " JSON tokens");
                    }
                }
            }
            return JSON.readTree(text);
        } catch (JacksonException e) {
            throw invalid("manifest is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw invalid("manifest could not be read");
        }
    }

    /**
     * Go's JSON decoder matches field names case-insensitively, so {@code "Layers"} would be layers to a client
     * but not to Berth. Known fields must therefore be spelt exactly.
     */
    private static void checkFieldSpelling(JsonNode object, Set<String> known, String pathPrefix) {
        for (Iterator<String> names = object.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            for (String field : known) {
                if (name.equalsIgnoreCase(field) && !name.equals(field)) {
                    throw invalid(pathPrefix + name + ": field names are case-sensitive; write \"" + field + "\"");
                }
            }
        }
    }

    private static String chooseMediaType(JsonNode root, String declared, String header) {
        // A generic header says nothing about the manifest: fall back to the document.
        if (MediaTypes.JSON.equals(header) || MediaTypes.OCTET_STREAM.equals(header)) {
            header = null;
        }
        if (declared != null && header != null && !declared.equals(header)) {
            throw invalid("mediaType " + declared + " does not match the Content-Type " + header);
        }
        String type = header != null ? header : declared;
        if (type == null) {
            if (root.has("manifests")) {
                type = MediaTypes.OCI_INDEX;
            } else if (root.has("config")) {
                type = MediaTypes.OCI_MANIFEST;
            } else {
                throw invalid("cannot tell the manifest type: set mediaType");
            }
        }
        if (!MediaTypes.isManifest(type)) {
            throw invalid("unsupported manifest media type " + type + "; supported: " + MediaTypes.OCI_MANIFEST + ", "
                    + MediaTypes.OCI_INDEX + ", " + MediaTypes.DOCKER_MANIFEST + ", " + MediaTypes.DOCKER_MANIFEST_LIST);
        }
        return type;
    }

    private static List<Descriptor> descriptors(JsonNode root, String field) {
        JsonNode array = root.get(field);
        if (array == null || !array.isArray()) {
            throw invalid(field + ": required array");
        }
        List<Descriptor> result = new ArrayList<>(array.size());
        for (int i = 0; i < array.size(); i++) {
            result.add(descriptor(array.get(i), field + "[" + i + "]"));
        }
        return result;
    }

    private static Descriptor descriptor(JsonNode node, String path) {
        if (node == null || !node.isObject()) {
            throw invalid(path + ": must be a descriptor object");
        }
        checkFieldSpelling(node, DESCRIPTOR_FIELDS, path + ".");
        String mediaType = optionalString(node, "mediaType", path + ".");
        if (mediaType == null || mediaType.isEmpty()) {
            throw invalid(path + ".mediaType: required");
        }
        JsonNode digestNode = node.get("digest");
        if (digestNode == null || !digestNode.isTextual()) {
            throw invalid(path + ".digest: required string");
        }
        Digest digest;
        try {
            digest = Digest.parse(digestNode.textValue());
        } catch (RegistryException e) {
            throw invalid(path + ".digest: " + e.getMessage());
        }
        JsonNode sizeNode = node.get("size");
        // An integer token, not 100.0 or 1e2: Go clients read size as int64 and refuse anything else.
        if (sizeNode == null || !sizeNode.isIntegralNumber() || !sizeNode.canConvertToLong() || sizeNode.longValue() < 0) {
            throw invalid(path + ".size: required non-negative integer");
        }
        long size = sizeNode.longValue();
        List<String> urls = new ArrayList<>();
        JsonNode urlNodes = node.get("urls");
        if (urlNodes != null) {
            if (!urlNodes.isArray()) {
                throw invalid(path + ".urls: must be an array of strings");
            }
            for (JsonNode u : urlNodes) {
                if (!u.isTextual()) {
                    throw invalid(path + ".urls: must be an array of strings");
                }
                urls.add(u.textValue());
            }
        }
        JsonNode data = node.get("data");
        if (data != null && !data.isNull()) {
            checkEmbeddedData(data, digest, size, path);
        }
        return new Descriptor(mediaType, digest, size, optionalString(node, "artifactType", path + "."),
                annotations(node.get("annotations"), path + ".annotations"), urls);
    }

    /** The image spec requires embedded {@code data} to be the very content the descriptor names. */
    private static void checkEmbeddedData(JsonNode data, Digest digest, long size, String path) {
        if (!data.isTextual()) {
            throw invalid(path + ".data: must be a base64 string");
        }
        byte[] bytes;
        try {
            bytes = Base64.getDecoder().decode(data.textValue());
        } catch (IllegalArgumentException e) {
            throw invalid(path + ".data: not valid base64");
        }
        if (bytes.length != size || !Digest.compute(digest.algorithm(), bytes).equals(digest)) {
            throw invalid(path + ".data: does not match the descriptor's digest and size");
        }
    }

    private static Map<String, String> annotations(JsonNode node, String path) {
        if (node == null || node.isNull()) {
            return Map.of();
        }
        if (!node.isObject()) {
            throw invalid(path + ": must be an object of strings");
        }
        Map<String, String> result = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            if (!e.getValue().isTextual()) {
                throw invalid(path + "." + e.getKey() + ": must be a string");
            }
            result.put(e.getKey(), e.getValue().textValue());
        }
        return result;
    }

    private static String optionalString(JsonNode node, String field, String pathPrefix) {
        JsonNode value = node.get(field);
        if (value == null || value.isNull()) {
            return null;
        }
        if (!value.isTextual()) {
            throw invalid(pathPrefix + field + ": must be a string");
        }
        return value.textValue();
    }

    private static RegistryException invalid(String message) {
        return RegistryException.of(ErrorCode.MANIFEST_INVALID, message);
    }
}
