package dev.berth.config;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * {@code extensions.sync}: upstream registries mirrored on demand (pull-through) or periodically, in zot's
 * format, plus a few keys of Berth's own.
 */
public record SyncConfig(boolean enabled, List<Upstream> registries) {
    public static final Duration DEFAULT_FRESHNESS = Duration.ofMinutes(5);

    public SyncConfig {
        registries = List.copyOf(registries);
    }

    /**
     * One upstream registry. {@code urls} are tried in order (the first is primary). {@code freshness} is how long
     * a tag checked upstream is served without asking again. {@code unprefixed} are globs of names requested
     * without any prefix (as Docker's registry-mirrors send them) that this upstream serves; {@code namespaces}
     * are the registry hosts containerd names in {@code ?ns=}.
     */
    public record Upstream(List<URI> urls, boolean onDemand, Duration pollInterval, List<Content> content,
                           boolean tlsVerify, Path certDir, int maxRetries, Duration retryDelay, Duration freshness,
                           List<String> unprefixed, List<String> namespaces, Map<String, Login> logins) {
        public Upstream {
            urls = List.copyOf(urls);
            content = List.copyOf(content);
            unprefixed = List.copyOf(unprefixed);
            namespaces = List.copyOf(namespaces);
            logins = Map.copyOf(logins);
        }

        /** The credentials for one of the URLs (by its {@code host[:port]}), if {@code credentialsFile} has any. */
        public Login login(URI url) {
            return logins.get(authority(url));
        }

        @Override
        public String toString() {
            return "Upstream[" + urls + ", content=" + content + ", logins for " + logins.keySet() + "]";
        }
    }

    /** {@code host} or {@code host:port}, as zot's {@code credentialsFile} keys name a registry. */
    public static String authority(URI url) {
        return url.getHost() + (url.getPort() > 0 ? ":" + url.getPort() : "");
    }

    /** A username and password from {@code credentialsFile}; the password never shows in logs. */
    public record Login(String username, String password) {
        @Override
        public String toString() {
            return "Login[" + username + ", ***]";
        }
    }

    /** Which upstream repositories ({@code prefix}, a glob) appear where locally ({@code destination}). */
    public record Content(String prefix, String destination, boolean stripPrefix, String tagRegex, String tagExcludeRegex,
                          boolean semver) {
    }
}
