package dev.berth.config;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** One JSON object of the configuration, with the keys read from it remembered. */
final class ConfigSection {
    private final String path;
    private final JsonNode node;
    private final Findings findings;
    private final Set<String> seen = new HashSet<>();

    ConfigSection(String path, JsonNode node, Findings findings) {
        this.path = path;
        this.node = node;
        this.findings = findings;
    }

    List<String> keys() {
        List<String> keys = new ArrayList<>();
        node.fieldNames().forEachRemaining(keys::add);
        return keys;
    }

    private Map.Entry<String, JsonNode> find(String key) {
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            if (e.getKey().equalsIgnoreCase(key)) {
                seen.add(e.getKey());
                return e;
            }
        }
        return null;
    }

    String where(String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    void error(String key, String message) {
        findings.errors.add(where(key) + ": " + message);
    }

    ConfigSection section(String key) {
        Map.Entry<String, JsonNode> e = find(key);
        if (e == null || e.getValue().isNull()) {
            return null;
        }
        if (!e.getValue().isObject()) {
            error(e.getKey(), "must be an object");
            return null;
        }
        return new ConfigSection(where(e.getKey()), e.getValue(), findings);
    }

    String string(String key) {
        Map.Entry<String, JsonNode> e = find(key);
        if (e == null || e.getValue().isNull()) {
            return null;
        }
        if (!e.getValue().isTextual()) {
            error(e.getKey(), "must be a string");
            return null;
        }
        return e.getValue().textValue();
    }

    Boolean bool(String key) {
        Map.Entry<String, JsonNode> e = find(key);
        if (e == null || e.getValue().isNull()) {
            return null;
        }
        if (!e.getValue().isBoolean()) {
            error(e.getKey(), "must be true or false");
            return null;
        }
        return e.getValue().booleanValue();
    }

    void any(String key) {
        find(key);
    }

    Duration duration(String key, Duration fallback) {
        Map.Entry<String, JsonNode> e = find(key);
        if (e == null || e.getValue().isNull()) {
            return fallback;
        }
        if (!e.getValue().isTextual()) {
            error(e.getKey(), "must be a duration string such as \"30s\" or \"1h\"");
            return fallback;
        }
        try {
            return Durations.parse(e.getValue().textValue());
        } catch (IllegalArgumentException ex) {
            error(e.getKey(), ex.getMessage());
            return fallback;
        }
    }

    /** An array of strings, or empty when absent. */
    List<String> stringList(String key) {
        Map.Entry<String, JsonNode> e = find(key);
        if (e == null || e.getValue().isNull()) {
            return List.of();
        }
        List<String> result = new ArrayList<>();
        if (e.getValue().isArray()) {
            for (JsonNode item : e.getValue()) {
                if (!item.isTextual()) {
                    error(e.getKey(), "must be an array of strings");
                    return List.of();
                }
                result.add(item.textValue());
            }
            return result;
        }
        error(e.getKey(), "must be an array of strings");
        return List.of();
    }

    /** An array of objects, or empty when absent. */
    List<ConfigSection> objectList(String key) {
        Map.Entry<String, JsonNode> e = find(key);
        if (e == null || e.getValue().isNull()) {
            return List.of();
        }
        if (!e.getValue().isArray()) {
            error(e.getKey(), "must be an array of objects");
            return List.of();
        }
        List<ConfigSection> result = new ArrayList<>();
        for (int i = 0; i < e.getValue().size(); i++) {
            JsonNode item = e.getValue().get(i);
            if (!item.isObject()) {
                error(e.getKey() + "[" + i + "]", "must be an object");
                continue;
            }
            result.add(new ConfigSection(where(e.getKey()) + "[" + i + "]", item, findings));
        }
        return result;
    }

    /** A duration written as a string ({@code "5s"}) or, as zot writes {@code failDelay}, whole seconds. */
    Duration secondsOrDuration(String key, Duration fallback) {
        Map.Entry<String, JsonNode> e = find(key);
        if (e != null && e.getValue().isIntegralNumber()) {
            if (e.getValue().longValue() < 0) {
                error(e.getKey(), "must not be negative");
                return fallback;
            }
            return Duration.ofSeconds(e.getValue().longValue());
        }
        return duration(key, fallback);
    }

    boolean has(String key) {
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            if (e.getKey().equalsIgnoreCase(key) && !e.getValue().isNull()) {
                return true;
            }
        }
        return false;
    }

    void warn(String key, String message) {
        findings.warnings.add(where(key) + ": " + message);
    }

    /** A whole number that must not be negative (zero allowed); 0 when absent. */
    int positiveOrZeroInt(String key) {
        Map.Entry<String, JsonNode> e = find(key);
        if (e == null || e.getValue().isNull()) {
            return 0;
        }
        if (!e.getValue().isInt() || e.getValue().intValue() < 0) {
            error(e.getKey(), "must be a whole number, 0 or more");
            return 0;
        }
        return e.getValue().intValue();
    }

    int positiveInt(String key, int fallback) {
        Map.Entry<String, JsonNode> e = find(key);
        if (e == null || e.getValue().isNull()) {
            return fallback;
        }
        if (!e.getValue().isInt() || e.getValue().intValue() < 1) {
            error(e.getKey(), "must be a positive whole number");
            return fallback;
        }
        return e.getValue().intValue();
    }

    int port(String key, int fallback) {
        Map.Entry<String, JsonNode> e = find(key);
        if (e == null || e.getValue().isNull()) {
            return fallback;
        }
        JsonNode value = e.getValue();
        String text = value.isTextual() ? value.textValue().strip() : value.isIntegralNumber() ? value.asText() : null;
        try {
            int port = Integer.parseInt(text == null ? "x" : text);
            if (port >= 0 && port <= 65535) {
                return port;
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        error(e.getKey(), "must be a port number from 0 to 65535");
        return fallback;
    }

    /** A key Berth knows but does not act on yet: a warning, or an error when ignoring it would be unsafe. */
    void notYet(String key, String reason, boolean fatal) {
        Map.Entry<String, JsonNode> e = find(key);
        if (e == null || e.getValue().isNull()) {
            return;
        }
        JsonNode value = e.getValue();
        if ((value.isBoolean() && !value.booleanValue())
                || (value.isObject() && value.has("enable") && !value.get("enable").asBoolean(true))) {
            return; // switched off: nothing is being asked of Berth
        }
        if (fatal) {
            findings.errors.add(where(e.getKey()) + ": not supported yet by this Berth: " + reason);
        } else {
            findings.warnings.add(where(e.getKey()) + ": " + reason);
        }
    }

    /** Warns about keys nobody read: typos, or settings Berth does not know at all. */
    void finish() {
        for (String key : keys()) {
            if (!seen.contains(key)) {
                findings.warnings.add(where(key) + ": unknown key, ignored");
            }
        }
    }
}
