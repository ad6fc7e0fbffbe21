package dev.berth.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/** Reads {@code extensions.sync} as zot writes it. */
final class SyncConfigReader {
    private static final ObjectMapper JSON = new ObjectMapper();

    private SyncConfigReader() {
    }

    static SyncConfig read(ConfigSection s) {
        if (s == null) {
            return null;
        }
        boolean enabled = !Boolean.FALSE.equals(s.bool("enable"));
        JsonNode credentials = null;
        String credentialsFile = s.string("credentialsFile");
        if (credentialsFile != null && !credentialsFile.isBlank()) {
            Path file = Path.of(credentialsFile);
            if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
                s.error("credentialsFile", credentialsFile + " is not a readable file (leave the key out if no"
                        + " upstream needs credentials)");
            } else {
                try {
                    credentials = JSON.readTree(file.toFile());
                    if (credentials == null || !credentials.isObject()) {
                        s.error("credentialsFile", credentialsFile + " must hold {\"<host>\": {\"username\": …, \"password\": …}}");
                        credentials = null;
                    }
                } catch (IOException e) {
                    // Never quote the file: it holds passwords.
                    s.error("credentialsFile", credentialsFile + " is not valid JSON");
                }
            }
        }
        s.notYet("downloadDir", "Berth streams upstream content straight into its store; ignored", false);
        List<SyncConfig.Upstream> upstreams = new ArrayList<>();
        for (ConfigSection r : s.objectList("registries")) {
            SyncConfig.Upstream upstream = readUpstream(r, credentials);
            if (upstream != null) {
                upstreams.add(upstream);
            }
        }
        s.finish();
        return new SyncConfig(enabled, upstreams);
    }

    private static SyncConfig.Upstream readUpstream(ConfigSection r, JsonNode credentials) {
        List<URI> urls = new ArrayList<>();
        List<String> given = r.stringList("urls");
        for (String url : given) {
            try {
                URI uri = new URI(url.endsWith("/") ? url.substring(0, url.length() - 1) : url);
                if (uri.getHost() == null || !("https".equals(uri.getScheme()) || "http".equals(uri.getScheme()))) {
                    r.error("urls", url + " is not an http(s) URL");
                } else {
                    urls.add(uri);
                }
            } catch (URISyntaxException e) {
                r.error("urls", url + " is not a URL: " + e.getReason());
            }
        }
        if (given.isEmpty()) {
            r.error("urls", "at least one upstream URL is required");
        }
        boolean onDemand = Boolean.TRUE.equals(r.bool("onDemand"));
        Duration pollInterval = r.duration("pollInterval", null);
        List<SyncConfig.Content> content = new ArrayList<>();
        for (ConfigSection c : r.objectList("content")) {
            String prefix = c.string("prefix");
            if (prefix == null || prefix.isBlank()) {
                c.error("prefix", "required (a glob of upstream repositories, e.g. \"**\")");
                prefix = "**";
            }
            String destination = c.string("destination");
            boolean stripPrefix = Boolean.TRUE.equals(c.bool("stripPrefix"));
            String regex = null;
            String exclude = null;
            boolean semver = false;
            ConfigSection tags = c.section("tags");
            if (tags != null) {
                regex = regex(tags, "regex");
                exclude = regex(tags, "excludeRegex");
                semver = Boolean.TRUE.equals(tags.bool("semver"));
                tags.finish();
            }
            c.finish();
            content.add(new SyncConfig.Content(trimSlashes(prefix), destination == null ? "" : trimSlashes(destination),
                    stripPrefix, regex, exclude, semver));
        }
        if (content.isEmpty()) {
            // zot mirrors everything when no content rule narrows it.
            content.add(new SyncConfig.Content("**", "", false, null, null, false));
        }
        for (SyncConfig.Content c : content) {
            if (c.destination().isEmpty() && c.prefix().equals("**")) {
                r.warn("content", "a rule with prefix \"**\" and no destination mirrors every repository name, so"
                        + " every push is refused; give it a destination such as \"/docker.io\"");
            }
        }
        if (!onDemand && pollInterval == null) {
            r.warn("onDemand", "neither onDemand nor pollInterval is set: nothing will ever be fetched from this"
                    + " upstream");
        }
        boolean tlsVerify = !Boolean.FALSE.equals(r.bool("tlsVerify"));
        Path certDir = null;
        String certs = r.string("certDir");
        if (certs != null && !certs.isBlank()) {
            certDir = Path.of(certs);
            if (!Files.isDirectory(certDir)) {
                r.error("certDir", certs + " is not a directory");
            }
        }
        int maxRetries = r.has("maxRetries") ? r.positiveOrZeroInt("maxRetries") : 2;
        Duration retryDelay = r.duration("retryDelay", Duration.ofSeconds(1));
        r.duration("maxRetryDelay", null);
        Duration freshness = r.duration("freshness", r.duration("manifestCheckInterval", SyncConfig.DEFAULT_FRESHNESS));
        List<String> unprefixed = r.stringList("unprefixed");
        List<String> namespaces = r.stringList("namespaces");
        r.bool("preserveDigest"); // Berth never converts: digests are always preserved
        r.duration("syncTimeout", null); // Berth never cuts a whole transfer short; only idle connections time out
        r.notYet("onlySigned", "signature checks are not supported yet, and mirroring without them would serve"
                + " unsigned images", true);
        r.notYet("credentialHelper", "credential helpers are not supported; use credentialsFile", false);
        r.notYet("oauth2CredentialHelper", "credential helpers are not supported; use credentialsFile", false);
        r.notYet("syncLegacyCosignTags", "signatures are not synced yet; ignored", false);
        for (String ignored : List.of("reqConcurrent", "reqPerSec", "disableHTTP2", "maxIdleConnsPerHost")) {
            r.notYet(ignored, "ignored", false);
        }
        r.finish();
        if (urls.isEmpty()) {
            return null;
        }
        // Each URL gets the credentials filed under its own host: a fail-over registry never sees the primary's.
        Map<String, SyncConfig.Login> logins = new java.util.HashMap<>();
        for (URI url : credentials == null ? List.<URI>of() : urls) {
            JsonNode entry = credentials.get(SyncConfig.authority(url));
            if (entry == null) {
                entry = credentials.get(url.getHost());
            }
            if (entry != null && entry.isObject() && text(entry, "username") != null && text(entry, "password") != null) {
                logins.put(SyncConfig.authority(url), new SyncConfig.Login(text(entry, "username"), text(entry, "password")));
            }
        }
        return new SyncConfig.Upstream(urls, onDemand, pollInterval, content, tlsVerify, certDir, maxRetries, retryDelay,
                freshness, unprefixed, namespaces, logins);
    }

    private static String regex(ConfigSection s, String key) {
        String value = s.string(key);
        if (value != null) {
            try {
                Pattern.compile(value);
            } catch (PatternSyntaxException e) {
                s.error(key, "not a valid regular expression: " + e.getDescription());
                return null;
            }
        }
        return value;
    }

    private static String trimSlashes(String s) {
        return s.replaceAll("^/+", "").replaceAll("/+$", "");
    }

    private static String text(JsonNode node, String field) {
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            if (e.getKey().equalsIgnoreCase(field) && e.getValue().isTextual()) {
                return e.getValue().textValue();
            }
        }
        return null;
    }
}
