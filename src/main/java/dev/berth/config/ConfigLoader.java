package dev.berth.config;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Reads zot's {@code config.json}. Keys match case-insensitively, as in zot. Every key is accounted for: those
 * Berth uses are validated (an invalid value is an error naming the key path), those that Berth does not use
 * yet are named in warnings, and unknown keys are warned about too, so nothing is silently ignored. Keys that
 * would leave the registry less protected or storing elsewhere than the operator asked (authentication, access
 * control, client certificates, a remote storage driver) are errors until Berth supports them.
 */
public final class ConfigLoader {
    private static final JsonMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();
    private static final Set<String> LOG_LEVELS = Set.of("trace", "debug", "info", "warn", "warning", "error",
            "fatal", "panic");

    private final List<String> errors = new ArrayList<>();
    private final List<String> warnings = new ArrayList<>();

    /** A loaded configuration and what the operator should be told about it. */
    public record Loaded(BerthConfig config, List<String> warnings) {
    }

    private ConfigLoader() {
    }

    public static Loaded load(Path file) throws ConfigException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new ConfigException(List.of(file + ": no such file"));
        } catch (IOException e) {
            throw new ConfigException(List.of(file + ": cannot read: " + e.getMessage()));
        }
        return parse(bytes, file.toString());
    }

    public static Loaded parse(byte[] bytes, String source) throws ConfigException {
        JsonNode root;
        try {
            root = JSON.readTree(bytes);
        } catch (JacksonException e) {
            var location = e.getLocation();
            String where = location == null ? "" : " at line " + location.getLineNr() + ", column " + location.getColumnNr();
            throw new ConfigException(List.of(source + ": not valid JSON" + where + ": " + e.getOriginalMessage()));
        } catch (IOException e) {
            throw new ConfigException(List.of(source + ": cannot read: " + e.getMessage()));
        }
        if (root == null || !root.isObject()) {
            throw new ConfigException(List.of(source + ": the configuration must be a JSON object"));
        }
        ConfigLoader loader = new ConfigLoader();
        BerthConfig config = loader.read(new Section("", root, loader));
        if (!loader.errors.isEmpty()) {
            throw new ConfigException(loader.errors, loader.warnings);
        }
        return new Loaded(config, List.copyOf(loader.warnings));
    }

    private BerthConfig read(Section root) {
        root.string("distSpecVersion");
        BerthConfig.Storage storage = readStorage(root.section("storage"));
        BerthConfig.Http http = readHttp(root.section("http"));
        BerthConfig.Log log = readLog(root.section("log"));
        Section extensions = root.section("extensions");
        if (extensions != null) {
            for (String key : extensions.keys()) {
                extensions.notYet(key, "extensions are not supported yet; this one is ignored", false);
            }
        }
        root.notYet("scheduler", "ignored", false);
        root.notYet("cluster", "Berth nodes do not form a zot cluster; this section is ignored", false);
        root.finish();
        return new BerthConfig(storage, http, log);
    }

    private BerthConfig.Storage readStorage(Section s) {
        // As in zot, a configuration file must say where the data lives: a misspelt key must not quietly
        // put images in a default directory.
        if (s == null) {
            errors.add("storage.rootDirectory: required");
            return new BerthConfig.Storage(BerthConfig.DEFAULT_ROOT);
        }
        String root = s.string("rootDirectory");
        if (root == null || root.isBlank()) {
            s.error("rootDirectory", "required");
        }
        // Berth always stores each blob once and always fsyncs: these zot switches are satisfied as they are.
        s.bool("dedupe");
        s.bool("commit");
        s.notYet("gc", "garbage collection is not supported yet", false);
        s.notYet("gcDelay", "garbage collection is not supported yet", false);
        s.notYet("gcInterval", "garbage collection is not supported yet", false);
        s.notYet("gcTimeWindow", "garbage collection is not supported yet", false);
        s.notYet("retention", "retention policies are not supported yet", false);
        s.notYet("cacheDriver", "Berth keeps its metadata in its own database; ignored", false);
        s.notYet("subPaths", "sub-path stores are not supported; every repository is kept under rootDirectory", false);
        s.notYet("maxRepos", "repository quotas are not supported yet", false);
        s.notYet("redirectBlobURL", "blob redirects need a remote storage driver, not supported yet", false);
        s.notYet("fastRestart", "ignored: Berth starts from its database without scanning storage", false);
        s.notYet("storageDriver", "remote storage drivers are not supported yet, and starting on local disk instead"
                + " would put images where you did not ask", true);
        s.finish();
        return new BerthConfig.Storage(root == null || root.isBlank() ? BerthConfig.DEFAULT_ROOT : Path.of(root));
    }

    private BerthConfig.Http readHttp(Section s) {
        BerthConfig defaults = BerthConfig.defaults();
        if (s == null) {
            return defaults.http();
        }
        String address = s.string("address");
        if (address != null && address.isBlank()) {
            s.error("address", "must not be empty");
        }
        int port = s.port("port", BerthConfig.DEFAULT_PORT);
        BerthConfig.Tls tls = readTls(s.section("tls"));
        URI externalUrl = null;
        String external = s.string("externalUrl");
        if (external != null && !external.isBlank()) {
            externalUrl = absoluteUrl(s, "externalUrl", external);
        }
        Duration idle = s.duration("idleTimeout", BerthConfig.DEFAULT_IDLE_TIMEOUT);
        if (idle.isNegative() || idle.isZero()) {
            s.error("idleTimeout", "must be positive");
        }
        int maxConnections = s.positiveInt("maxConnections", BerthConfig.DEFAULT_MAX_CONNECTIONS);
        // zot cuts whole requests at these; Berth never does (only idle connections time out), so they are moot.
        s.duration("readTimeout", null);
        s.duration("writeTimeout", null);
        s.any("compat");
        s.notYet("realm", "authentication is not supported yet", false);
        s.notYet("allowOrigin", "CORS headers are not supported yet", false);
        s.notYet("ratelimit", "rate limiting is not supported yet", false);
        s.notYet("auth", "authentication is not supported yet, and starting without it would expose the registry", true);
        s.notYet("accessControl", "access control is not supported yet, and starting without it would expose"
                + " the registry", true);
        s.finish();
        return new BerthConfig.Http(address == null || address.isBlank() ? BerthConfig.DEFAULT_ADDRESS : address,
                port, tls, externalUrl, idle, maxConnections);
    }

    private BerthConfig.Tls readTls(Section s) {
        if (s == null) {
            return null;
        }
        String cert = s.string("cert");
        String key = s.string("key");
        if (cert == null || cert.isBlank()) {
            s.error("cert", "required when http.tls is set");
        }
        if (key == null || key.isBlank()) {
            s.error("key", "required when http.tls is set");
        }
        s.notYet("cacert", "client certificate authentication is not supported yet, and starting without it"
                + " would accept clients you meant to refuse", true);
        s.finish();
        if (cert == null || key == null || cert.isBlank() || key.isBlank()) {
            return null;
        }
        BerthConfig.Tls tls = new BerthConfig.Tls(Path.of(cert), Path.of(key));
        // Read the files now, so that verify catches what serve would trip over.
        if (!Files.isReadable(tls.cert())) {
            s.error("cert", tls.cert() + " is not a readable file");
        } else if (!Files.isReadable(tls.key())) {
            s.error("key", tls.key() + " is not a readable file");
        } else {
            try {
                TlsKeys.load(tls.cert(), tls.key());
            } catch (IOException | GeneralSecurityException e) {
                s.error("key", "unusable certificate or key: " + e.getMessage());
            }
        }
        return tls;
    }

    private BerthConfig.Log readLog(Section s) {
        if (s == null) {
            return BerthConfig.defaults().log();
        }
        String level = s.string("level");
        if (level != null && !LOG_LEVELS.contains(level.toLowerCase(Locale.ROOT))) {
            s.error("level", "must be one of trace, debug, info, warn, error");
        }
        String output = s.string("output");
        s.notYet("audit", "the audit log is not supported yet", false);
        s.finish();
        Path file = output == null || output.isBlank() || output.equalsIgnoreCase("stdout") ? null : Path.of(output);
        return new BerthConfig.Log(level == null ? "info" : normaliseLevel(level), file);
    }

    private static String normaliseLevel(String level) {
        return switch (level.toLowerCase(Locale.ROOT)) {
            case "warning" -> "warn";
            case "fatal", "panic" -> "error";
            default -> level.toLowerCase(Locale.ROOT);
        };
    }

    private static URI absoluteUrl(Section s, String key, String value) {
        try {
            URI uri = new URI(value);
            if (uri.getHost() == null || !("http".equals(uri.getScheme()) || "https".equals(uri.getScheme()))) {
                s.error(key, "must be an absolute http or https URL");
                return null;
            }
            return uri;
        } catch (URISyntaxException e) {
            s.error(key, "not a valid URL: " + e.getReason());
            return null;
        }
    }

    /** One JSON object of the configuration, with the keys read from it remembered. */
    private static final class Section {
        private final String path;
        private final JsonNode node;
        private final ConfigLoader loader;
        private final Set<String> seen = new HashSet<>();

        Section(String path, JsonNode node, ConfigLoader loader) {
            this.path = path;
            this.node = node;
            this.loader = loader;
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
            loader.errors.add(where(key) + ": " + message);
        }

        Section section(String key) {
            Map.Entry<String, JsonNode> e = find(key);
            if (e == null || e.getValue().isNull()) {
                return null;
            }
            if (!e.getValue().isObject()) {
                error(e.getKey(), "must be an object");
                return null;
            }
            return new Section(where(e.getKey()), e.getValue(), loader);
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
                loader.errors.add(where(e.getKey()) + ": not supported yet by this Berth: " + reason);
            } else {
                loader.warnings.add(where(e.getKey()) + ": " + reason);
            }
        }

        /** Warns about keys nobody read: typos, or settings Berth does not know at all. */
        void finish() {
            for (String key : keys()) {
                if (!seen.contains(key)) {
                    loader.warnings.add(where(key) + ": unknown key, ignored");
                }
            }
        }
    }
}
