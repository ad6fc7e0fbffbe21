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

    private final Findings findings = new Findings();
    private final List<String> errors = findings.errors;

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
        BerthConfig config = loader.read(new ConfigSection("", root, loader.findings));
        if (!loader.findings.errors.isEmpty()) {
            throw new ConfigException(loader.findings.errors, loader.findings.warnings);
        }
        return new Loaded(config, List.copyOf(loader.findings.warnings));
    }

    private BerthConfig read(ConfigSection root) {
        root.string("distSpecVersion");
        BerthConfig.Storage storage = readStorage(root.section("storage"));
        BerthConfig.Http http = readHttp(root.section("http"));
        BerthConfig.Log log = readLog(root.section("log"));
        ConfigSection extensions = root.section("extensions");
        BerthConfig.Metrics metrics = BerthConfig.Metrics.DEFAULT;
        SyncConfig sync = null;
        boolean ui = true;
        if (extensions != null) {
            ConfigSection uiSection = extensions.section("ui");
            if (uiSection != null) {
                ui = !Boolean.FALSE.equals(uiSection.bool("enable"));
                uiSection.finish();
            }
            metrics = readMetrics(extensions.section("metrics"));
            sync = SyncConfigReader.read(extensions.section("sync"));
            storage = storage.withScrub(readScrub(extensions.section("scrub")));
            for (String key : extensions.keys()) {
                if (!List.of("metrics", "sync", "scrub", "ui").contains(key.toLowerCase(Locale.ROOT))) {
                    extensions.notYet(key, "this extension is not supported yet; ignored", false);
                }
            }
        }
        root.notYet("scheduler", "ignored", false);
        root.notYet("cluster", "Berth nodes do not form a zot cluster; this section is ignored", false);
        root.finish();
        return new BerthConfig(storage, http, log, metrics, sync, ui);
    }

    private static RetentionPolicy readRetentionPolicy(ConfigSection p) {
        List<String> repositories = p.stringList("repositories");
        if (repositories.isEmpty()) {
            repositories = List.of("**"); // zot's default policy names none: it governs every repository
        }
        boolean deleteReferrers = Boolean.TRUE.equals(p.bool("deleteReferrers"));
        boolean deleteUntagged = !Boolean.FALSE.equals(p.bool("deleteUntagged"));
        p.notYet("keepUntagged", "not supported yet: untagged manifests follow deleteUntagged alone", false);
        List<RetentionPolicy.KeepTags> keepTags = new ArrayList<>();
        for (ConfigSection k : p.objectList("keepTags")) {
            List<String> patterns = k.stringList("patterns");
            for (String pattern : patterns) {
                try {
                    java.util.regex.Pattern.compile(pattern);
                } catch (java.util.regex.PatternSyntaxException e) {
                    k.error("patterns", pattern + " is not a regular expression: " + e.getDescription());
                }
            }
            keepTags.add(new RetentionPolicy.KeepTags(patterns,
                    k.has("mostRecentlyPushedCount") ? k.positiveOrZeroInt("mostRecentlyPushedCount") : 0,
                    k.has("mostRecentlyPulledCount") ? k.positiveOrZeroInt("mostRecentlyPulledCount") : 0,
                    k.duration("pulledWithin", null), k.duration("pushedWithin", null)));
            k.finish();
        }
        p.finish();
        return new RetentionPolicy(repositories, deleteReferrers, deleteUntagged, keepTags);
    }

    private BerthConfig.Scrub readScrub(ConfigSection s) {
        if (s == null) {
            return BerthConfig.Scrub.OFF;
        }
        boolean enabled = !Boolean.FALSE.equals(s.bool("enable"));
        Duration interval = s.duration("interval", BerthConfig.Scrub.DEFAULT_INTERVAL);
        if (interval.compareTo(BerthConfig.Scrub.MINIMUM_INTERVAL) < 0) {
            // zot raises a shorter interval to its minimum, and so does Berth, saying so.
            s.warn("interval", "shorter than the minimum of 2h; 2h is used");
            interval = BerthConfig.Scrub.MINIMUM_INTERVAL;
        }
        s.finish();
        return new BerthConfig.Scrub(enabled, interval);
    }

    private BerthConfig.Metrics readMetrics(ConfigSection s) {
        if (s == null) {
            return BerthConfig.Metrics.DEFAULT;
        }
        boolean enabled = !Boolean.FALSE.equals(s.bool("enable")); // a present section defaults to enabled, as in zot
        String path = BerthConfig.Metrics.DEFAULT.path();
        ConfigSection prometheus = s.section("prometheus");
        if (prometheus != null) {
            String configured = prometheus.string("path");
            if (configured != null && !configured.isBlank()) {
                path = configured;
            }
            prometheus.finish();
        }
        if (!path.startsWith("/") || path.equals("/") || path.equals("/v2") || path.startsWith("/v2/")
                || path.startsWith("/zot/")) {
            s.error("prometheus.path", "must be a path of its own, not /, /v2 or /zot");
        }
        s.finish();
        return new BerthConfig.Metrics(enabled, path);
    }

    private BerthConfig.Storage readStorage(ConfigSection s) {
        // As in zot, a configuration file must say where the data lives: a misspelt key must not quietly
        // put images in a default directory.
        if (s == null) {
            errors.add("storage.rootDirectory: required");
            return new BerthConfig.Storage(BerthConfig.DEFAULT_ROOT);
        }
        String root = s.string("rootDirectory");
        if (root == null || root.isBlank()) {
            s.error("rootDirectory", "required");
        } else if (root.startsWith("~")) {
            s.warn("rootDirectory", "\"~\" is not expanded: this is a directory named " + root.split("/")[0]
                    + " under the working directory; write the whole path");
        }
        // Berth always stores each blob once and always fsyncs: these zot switches are satisfied as they are.
        s.bool("dedupe");
        s.bool("commit");
        BerthConfig.Gc defaults = BerthConfig.Gc.DEFAULT;
        boolean gc = !Boolean.FALSE.equals(s.bool("gc"));
        Duration gcDelay = s.duration("gcDelay", defaults.delay());
        if (gcDelay.isNegative()) {
            s.error("gcDelay", "must not be negative");
        } else if (gc && gcDelay.isZero()) {
            s.warn("gcDelay", "0 lets garbage collection take blobs of a push still in flight (the manifest not yet"
                    + " pushed); zot refuses it");
        }
        Duration gcInterval = s.duration("gcInterval", defaults.interval());
        if (gc && (gcInterval.isNegative() || gcInterval.isZero())) {
            s.error("gcInterval", "must be longer than 0 when gc is on");
        }
        s.notYet("gcTimeWindow", "garbage collection runs at any time of day; ignored", false);
        boolean dryRun = false;
        Duration untaggedDelay = gcDelay;
        List<RetentionPolicy> policies = new ArrayList<>();
        ConfigSection retention = s.section("retention");
        if (retention != null) {
            dryRun = Boolean.TRUE.equals(retention.bool("dryRun"));
            untaggedDelay = retention.duration("delay", gcDelay);
            for (ConfigSection p : retention.objectList("policies")) {
                policies.add(readRetentionPolicy(p));
            }
            retention.finish();
            if (!gc && !policies.isEmpty()) {
                s.warn("retention", "its policies apply during garbage collection, which gc: false switches off;"
                        + " they never run");
            }
        }
        s.notYet("cacheDriver", "Berth keeps its metadata in its own database; ignored", false);
        s.notYet("subPaths", "sub-path stores are not supported; every repository is kept under rootDirectory", false);
        s.notYet("maxRepos", "repository quotas are not supported yet", false);
        s.notYet("redirectBlobURL", "blob redirects need a remote storage driver, not supported yet", false);
        s.notYet("fastRestart", "ignored: Berth starts from its database without scanning storage", false);
        BerthConfig.ObjectStore objectStore = readStorageDriver(s.section("storageDriver"));
        if (objectStore != null && gc && !gcDelay.isZero() && gcDelay.compareTo(Duration.ofMinutes(1)) < 0) {
            s.warn("gcDelay", "with blobs in S3 a chunk still arriving is marked alive every 20 s, so under a minute"
                    + " collection on another node may discard an upload in progress");
        }
        BerthConfig.Database database = readDatabase(s.section("database"));
        s.finish();
        return new BerthConfig.Storage(root == null || root.isBlank() ? BerthConfig.DEFAULT_ROOT : Path.of(root),
                new BerthConfig.Gc(gc, gcDelay, gcInterval, dryRun, untaggedDelay, policies), BerthConfig.Scrub.OFF,
                database, objectStore);
    }

    /** {@code storage.storageDriver}: zot's S3 keys. Any other driver stops the start: images would go elsewhere. */
    private BerthConfig.ObjectStore readStorageDriver(ConfigSection s) {
        if (s == null) {
            return null;
        }
        String name = s.string("name");
        if (!"s3".equals(name)) {
            s.error("name", "only s3 is supported (an S3-compatible service: AWS S3, MinIO, Ceph RGW, ...)");
            return null;
        }
        String bucket = s.string("bucket");
        if (bucket == null || bucket.isBlank()) {
            s.error("bucket", "required");
        }
        String region = s.string("region");
        String endpointText = s.string("regionendpoint");
        Boolean secure = s.bool("secure");
        java.net.URI endpoint = null;
        if (endpointText != null && !endpointText.isBlank()) {
            if (!endpointText.contains("://")) {
                endpointText = (Boolean.FALSE.equals(secure) ? "http://" : "https://") + endpointText;
            }
            try {
                endpoint = java.net.URI.create(endpointText);
                if (endpoint.getHost() == null) {
                    s.error("regionendpoint", "not a URL: " + endpointText);
                }
            } catch (IllegalArgumentException e) {
                s.error("regionendpoint", "not a URL: " + endpointText);
            }
        }
        if ((region == null || region.isBlank()) && endpoint == null) {
            s.error("region", "required unless regionendpoint names the service");
        }
        String prefix = s.string("rootdirectory");
        prefix = prefix == null ? "" : prefix.replaceAll("^/+|/+$", "");
        if (prefix.contains("..") || prefix.contains("//")) {
            s.error("rootdirectory", "must be a plain key prefix such as /berth");
        }
        boolean pathStyle = Boolean.TRUE.equals(s.bool("forcepathstyle"));
        String accessKey = s.string("accesskey");
        String secretKey = s.string("secretkey");
        if ((accessKey == null) != (secretKey == null)) {
            s.error(accessKey == null ? "accesskey" : "secretkey",
                    "accesskey and secretkey go together; leave both out to use the AWS credential chain");
        }
        s.notYet("skipverify", "TLS to the object store is always verified", false);
        s.notYet("encrypt", "ask the bucket for default encryption instead", false);
        s.notYet("keyid", "ask the bucket for default encryption instead", false);
        s.notYet("chunksize", "Berth sizes multipart uploads itself", false);
        s.notYet("multipartcopychunksize", "Berth sizes multipart copies itself", false);
        s.notYet("multipartcopymaxconcurrency", "Berth sizes multipart copies itself", false);
        s.notYet("multipartcopythresholdsize", "Berth sizes multipart copies itself", false);
        s.notYet("storageclass", "objects get the bucket's default storage class", false);
        s.finish();
        return new BerthConfig.ObjectStore(bucket, region == null || region.isBlank() ? "us-east-1" : region, endpoint,
                prefix, pathStyle, accessKey, secretKey);
    }

    /** {@code storage.database}: PostgreSQL instead of the embedded SQLite file. */
    private BerthConfig.Database readDatabase(ConfigSection s) {
        if (s == null) {
            return null;
        }
        String url = s.string("url");
        if (url == null || url.isBlank()) {
            s.error("url", "required: the PostgreSQL server's JDBC URL, such as jdbc:postgresql://db.example:5432/berth");
        } else if (!url.startsWith("jdbc:postgresql:")) {
            s.error("url", "must be a PostgreSQL JDBC URL (jdbc:postgresql://host:port/database)");
        }
        String user = s.string("user");
        String password = s.string("password");
        if (password == null) {
            // Kept out of the file where that suits the deployment better (a secret store's environment).
            password = System.getenv("BERTH_DATABASE_PASSWORD");
        }
        int connections = s.positiveInt("maxConnections", BerthConfig.Database.DEFAULT_MAX_CONNECTIONS);
        if (connections < 4) {
            s.error("maxConnections", "must be at least 4 (one is held for node coordination)");
        }
        s.finish();
        return new BerthConfig.Database(url, user, password, connections);
    }

    private BerthConfig.Http readHttp(ConfigSection s) {
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
        String realm = s.string("realm");
        s.notYet("allowOrigin", "CORS headers are not supported yet", false);
        s.notYet("ratelimit", "rate limiting is not supported yet", false);
        AuthConfig auth = AccessConfigReader.readAuth(s.section("auth"));
        AccessControlConfig accessControl = AccessConfigReader.readAccessControl(s.section("accessControl"), auth);
        if (auth != null && !auth.openid().isEmpty() && externalUrl == null) {
            s.error("externalUrl", "required with openid: it makes the redirect URI registered at the provider, and"
                    + " redirects must not be built from the Host header a client sends");
        }
        if (auth != null && auth.mtls() != null && (tls == null || tls.caCert() == null)) {
            s.error("auth.mtls", "client certificates need http.tls with a cacert to check them against");
        }
        s.finish();
        return new BerthConfig.Http(address == null || address.isBlank() ? BerthConfig.DEFAULT_ADDRESS : address,
                port, tls, externalUrl, idle, maxConnections,
                realm == null || realm.isBlank() ? BerthConfig.DEFAULT_REALM : realm, auth, accessControl);
    }

    private BerthConfig.Tls readTls(ConfigSection s) {
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
        String caCert = s.string("cacert");
        s.finish();
        if (cert == null || key == null || cert.isBlank() || key.isBlank()) {
            return null;
        }
        Path ca = caCert == null || caCert.isBlank() ? null : Path.of(caCert);
        if (ca != null) {
            if (!Files.isReadable(ca)) {
                s.error("cacert", ca + " is not a readable file");
            } else {
                AccessConfigReader.checkCertificates(s, "cacert", ca);
            }
        }
        BerthConfig.Tls tls = new BerthConfig.Tls(Path.of(cert), Path.of(key), ca);
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

    private BerthConfig.Log readLog(ConfigSection s) {
        if (s == null) {
            return BerthConfig.defaults().log();
        }
        String level = s.string("level");
        if (level != null && !LOG_LEVELS.contains(level.toLowerCase(Locale.ROOT))) {
            s.error("level", "must be one of trace, debug, info, warn, error");
        }
        String output = s.string("output");
        String audit = s.string("audit");
        String format = s.string("format");
        if (format != null && !List.of("text", "json").contains(format.toLowerCase(Locale.ROOT))) {
            s.error("format", "must be text or json");
        }
        Path file = output == null || output.isBlank() || output.equalsIgnoreCase("stdout") ? null : Path.of(output);
        Path auditFile = audit == null || audit.isBlank() ? null : Path.of(audit);
        checkWritable(s, "output", file);
        checkWritable(s, "audit", auditFile);
        s.finish();
        return new BerthConfig.Log(level == null ? "info" : normaliseLevel(level), file, auditFile,
                format != null && format.equalsIgnoreCase("json"));
    }

    /** A log file must be one Berth can write: a log that silently goes nowhere is worse than none. */
    private static void checkWritable(ConfigSection s, String key, Path file) {
        if (file == null) {
            return;
        }
        Path absolute = file.toAbsolutePath();
        if (java.nio.file.Files.isDirectory(absolute)) {
            s.error(key, "is a directory; name a file in it");
        } else if (java.nio.file.Files.exists(absolute) ? !java.nio.file.Files.isWritable(absolute)
                : absolute.getParent() == null || !java.nio.file.Files.isDirectory(absolute.getParent())
                || !java.nio.file.Files.isWritable(absolute.getParent())) {
            s.error(key, "cannot be written (its directory must exist and be writable)");
        }
    }

    private static String normaliseLevel(String level) {
        return switch (level.toLowerCase(Locale.ROOT)) {
            case "warning" -> "warn";
            case "fatal", "panic" -> "error";
            default -> level.toLowerCase(Locale.ROOT);
        };
    }

    private static URI absoluteUrl(ConfigSection s, String key, String value) {
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
}
