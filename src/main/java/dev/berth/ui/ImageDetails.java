package dev.berth.ui;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What pages show of a manifest and an image config, read from their stored JSON. Display only: the registry's
 * own checks parse manifests elsewhere ({@code oci.ManifestParser}); here anything unexpected is simply left out.
 */
public final class ImageDetails {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** History lines and values beyond this are cut, so one odd image cannot make a page huge. */
    private static final int MAX_TEXT = 2_000;

    private ImageDetails() {
    }

    public static JsonNode read(byte[] json) {
        try {
            JsonNode node = JSON.readTree(json);
            return node == null ? JSON.nullNode() : node;
        } catch (IOException e) {
            return JSON.nullNode();
        }
    }

    /** The manifest as indented JSON, for reading (the stored bytes are what clients get). */
    public static String pretty(byte[] json) {
        JsonNode node = read(json);
        try {
            return node.isNull() ? new String(json, java.nio.charset.StandardCharsets.UTF_8)
                    : JSON.writerWithDefaultPrettyPrinter().writeValueAsString(node);
        } catch (JsonProcessingException e) {
            return "";
        }
    }

    /**
     * The distinct platforms of an index (as {@code os/architecture[/variant]}, in its order), at most {@code max} of them, then "and N more": a tag row stays a row
     * however many entries a hostile index has.
     */
    public static List<String> platforms(JsonNode index, int max) {
        java.util.Set<String> found = new java.util.LinkedHashSet<>();
        for (JsonNode m : index.path("manifests")) {
            String platform = platform(m.path("platform"));
            if (!platform.isEmpty()) {
                found.add(platform);
            }
        }
        List<String> shown = new ArrayList<>(found.stream().limit(max).toList());
        if (found.size() > max) {
            shown.add("and " + (found.size() - max) + " more");
        }
        return shown;
    }

    public static List<Views.Child> children(JsonNode index) {
        List<Views.Child> children = new ArrayList<>();
        for (JsonNode m : index.path("manifests")) {
            children.add(new Views.Child(m.path("digest").asText(""), platform(m.path("platform")),
                    m.path("mediaType").asText(""), m.path("size").asLong(0)));
        }
        return children;
    }

    public static List<Views.Layer> layers(JsonNode manifest) {
        List<Views.Layer> layers = new ArrayList<>();
        for (JsonNode l : manifest.path("layers")) {
            layers.add(descriptor(l));
        }
        return layers;
    }

    /**
     * What kind of artifact a manifest is, when it is not a plain image: its {@code artifactType}, else a config
     * media type other than an image config's (how artifacts were marked before v1.1); null for an image or index.
     */
    public static String artifactType(JsonNode manifest) {
        String declared = manifest.path("artifactType").asText("");
        if (!declared.isEmpty()) {
            return declared;
        }
        String config = manifest.path("config").path("mediaType").asText("");
        return config.isEmpty() || isImageConfig(config) ? null : config;
    }

    /** Whether a config media type is a container image's (so the manifest is an image, not another artifact). */
    public static boolean isImageConfig(String mediaType) {
        return IMAGE_CONFIGS.contains(mediaType);
    }

    private static final java.util.Set<String> IMAGE_CONFIGS = java.util.Set.of(
            "application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json");

    /** The manifest's config descriptor, or null (an index has none). */
    public static Views.Layer configDescriptor(JsonNode manifest) {
        JsonNode config = manifest.path("config");
        return config.isObject() ? descriptor(config) : null;
    }

    private static Views.Layer descriptor(JsonNode d) {
        return new Views.Layer(d.path("digest").asText(""), d.path("mediaType").asText(""), d.path("size").asLong(0));
    }

    /** What an image config says: platform, entrypoint, env, labels, history... */
    public static Views.ImageConfig config(byte[] json) {
        JsonNode c = read(json);
        if (!c.isObject()) {
            return Views.ImageConfig.NONE;
        }
        JsonNode run = c.path("config");
        Map<String, String> labels = new LinkedHashMap<>();
        run.path("Labels").fields().forEachRemaining(e -> labels.put(cut(e.getKey()), cut(e.getValue().asText(""))));
        List<String> ports = new ArrayList<>();
        run.path("ExposedPorts").fieldNames().forEachRemaining(p -> ports.add(cut(p)));
        List<Views.HistoryStep> history = new ArrayList<>();
        for (JsonNode h : c.path("history")) {
            history.add(new Views.HistoryStep(text(h.path("created")), cut(h.path("created_by").asText("")),
                    h.path("empty_layer").asBoolean(false)));
        }
        return new Views.ImageConfig(true, text(c.path("created")), platform(c), text(run.path("User")),
                text(run.path("WorkingDir")), strings(run.path("Entrypoint")), strings(run.path("Cmd")),
                strings(run.path("Env")), labels, ports, history);
    }

    private static String platform(JsonNode p) {
        String os = p.path("os").asText("");
        String arch = p.path("architecture").asText("");
        if (os.isEmpty() && arch.isEmpty()) {
            return "";
        }
        String variant = p.path("variant").asText("");
        String platform = os + "/" + arch + (variant.isEmpty() ? "" : "/" + variant);
        return platform.length() > MAX_PLATFORM ? platform.substring(0, MAX_PLATFORM) + "…" : platform;
    }

    private static List<String> strings(JsonNode array) {
        List<String> values = new ArrayList<>();
        for (JsonNode v : array) {
            values.add(cut(v.asText("")));
        }
        return values;
    }

    private static String text(JsonNode node) {
        String s = node.isTextual() ? node.textValue() : null;
        return s == null || s.isEmpty() ? null : cut(s);
    }

    /** Real platforms are short ("linux/arm64/v8"); in a list of them, longer ones are cut. */
    private static final int MAX_PLATFORM = 40;

    private static String cut(String s) {
        return s.length() > MAX_TEXT ? s.substring(0, MAX_TEXT) + "…" : s;
    }
}
