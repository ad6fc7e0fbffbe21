package dev.berth.ui;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/** What the pages show, one record per page or row; the templates in {@code src/main/jte} render them. */
public final class Views {
    private Views() {
    }

    /**
     * The frame of every page: its title, the section of the navigation it belongs to, who is signed in (null:
     * nobody), the token that forms posted from it carry, and which links the navigation offers.
     */
    public record Chrome(String title, String section, String user, String csrf, boolean apiKeys, boolean signIn,
                         String version, String refresh) {
        /** The same frame, sending the browser on to {@code url} as soon as the page is shown. */
        public Chrome goingTo(String url) {
            return new Chrome(title, section, user, csrf, apiKeys, signIn, version, url);
        }
    }

    /** After signing out of Berth: {@code provider} names the provider being signed out of, at {@code url}. */
    public record SignedOut(String provider, String url) {
    }

    /** A way to sign in through an OpenID provider. */
    public record Provider(String name, String url) {
    }

    public record Login(List<Provider> providers, boolean passwords, String next, String csrf, String error,
                        String username, boolean guests) {
    }

    /** A repository in the list: {@code upstream} names the registry it mirrors, or is null. */
    public record RepositoryRow(String name, int tags, long size, Instant lastPush, String upstream) {
    }

    /** {@code more}: the list was cut at its limit, so a search narrows it. */
    public record Explore(String query, List<RepositoryRow> repositories, boolean more, Instant now) {
    }

    /** A tag in a repository's list: {@code platforms} for an index, its children's os/arch; {@code size} -1: not known. */
    public record TagRow(String tag, String digest, String kind, List<String> platforms, long size, Instant pushed,
                         String pull) {
    }

    /** One page of a repository's tags; {@code next} is the tag after which the next page starts, or null. */
    public record Repository(String name, String upstream, int tagCount, long size, Instant lastPush, List<TagRow> tags,
                             String next, boolean firstPage, Instant now, List<Untagged> untagged) {
    }

    public record Layer(String digest, String mediaType, long size) {
    }

    /** A manifest an index lists. */
    public record Child(String digest, String platform, String mediaType, long size) {
    }

    public record Referrer(String digest, String artifactType, long size, Instant pushed) {
    }

    /** A manifest nothing points at (shown on the repository's first page; garbage collection takes them). */
    public record Untagged(String digest, String kind, long size, Instant pushed) {
    }

    /** What an image's config says, as far as it says it; {@code available} false when it is not stored here. */
    public record ImageConfig(boolean available, String created, String platform, String user, String workingDir,
                              List<String> entrypoint, List<String> cmd, List<String> env, Map<String, String> labels,
                              List<String> exposedPorts, List<HistoryStep> history) {
        public static final ImageConfig NONE = new ImageConfig(false, null, null, null, null, List.of(), List.of(),
                List.of(), Map.of(), List.of(), List.of());
    }

    public record HistoryStep(String created, String createdBy, boolean emptyLayer) {
    }

    /** One manifest, named by tag or digest, with what it holds. */
    public record Manifest(String repository, String reference, String digest, String mediaType, long size,
                           String artifactType, String json, ImageConfig config, Layer configBlob, List<Layer> layers,
                           List<Child> children, int childCount, List<Referrer> referrers, String pull, String upstream,
                           long pullBytes, List<String> tags) {
    }

    public record ApiKeyRow(String id, String label, Instant created, Instant expires, Instant lastUsed,
                            List<String> scopes, boolean expired) {
    }

    /** The API keys page; {@code secret} is the key just generated, shown this once. */
    /** {@code once} names the generate form as rendered, so that a reload posting it again makes no second key. */
    public record ApiKeys(String user, List<ApiKeyRow> keys, String secret, String secretLabel, String error,
                          String defaultExpiry, String maxExpiry, String minExpiry, String once) {
    }

    public record Problem(int status, String title, String message) {
    }
}
