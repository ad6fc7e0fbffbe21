package dev.berth.proxy;

import dev.berth.access.Glob;
import dev.berth.config.SyncConfig;
import java.net.URI;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * One upstream registry and where its repositories appear locally, by zot's content rules: a local repository
 * {@code <destination>/<name>} is the upstream repository {@code <name>} (with {@code stripPrefix}, the literal part
 * of {@code prefix} is put back in front). For Docker Hub, a one-segment name means {@code library/<name>}.
 */
public final class Mirror {
    /** The names Docker Hub goes by; containerd may send any of them in {@code ?ns=}. */
    static final Set<String> DOCKER_HUB = Set.of("docker.io", "index.docker.io", "registry-1.docker.io");

    private final SyncConfig.Upstream config;
    private final List<Rule> rules;
    private final List<Glob> unprefixed;
    private final Set<String> namespaces;
    private final boolean dockerHub;
    private final boolean upstreamIsDockerHub;

    /** A content rule: local repositories matching {@code local} come from upstream by {@link #upstreamName}. */
    private record Rule(SyncConfig.Content content, Glob local, Glob upstream, String literalPrefix) {
    }

    Mirror(SyncConfig.Upstream config) {
        this.config = config;
        this.rules = config.content().stream().map(Mirror::rule).toList();
        this.unprefixed = config.unprefixed().stream().map(Glob::new).toList();
        Set<String> names = new LinkedHashSet<>();
        for (String ns : config.namespaces()) {
            names.add(ns.toLowerCase(Locale.ROOT));
        }
        if (config.namespaces().isEmpty()) {
            for (SyncConfig.Content c : config.content()) {
                String first = c.destination().isEmpty() ? "" : c.destination().split("/")[0];
                if (first.contains(".")) {
                    names.add(first.toLowerCase(Locale.ROOT));
                }
            }
            for (URI url : config.urls()) {
                names.add(url.getHost().toLowerCase(Locale.ROOT));
                if (url.getPort() > 0) {
                    names.add(SyncConfig.authority(url).toLowerCase(Locale.ROOT)); // containerd sends host:port
                }
            }
        }
        this.dockerHub = names.stream().anyMatch(DOCKER_HUB::contains);
        this.upstreamIsDockerHub = config.urls().stream()
                .anyMatch(u -> DOCKER_HUB.contains(u.getHost().toLowerCase(Locale.ROOT)));
        if (dockerHub) {
            names.addAll(DOCKER_HUB);
        }
        this.namespaces = Set.copyOf(names);
    }

    private static Rule rule(SyncConfig.Content c) {
        String literal = literalPart(c.prefix());
        String localPattern;
        if (c.stripPrefix()) {
            String rest = c.prefix().substring(literal.length()).replaceAll("^/+", "");
            localPattern = join(c.destination(), rest.isEmpty() ? "**" : rest);
        } else {
            localPattern = join(c.destination(), c.prefix());
        }
        return new Rule(c, new Glob(localPattern), new Glob(c.prefix()), literal);
    }

    /** The leading part of a glob before its first wildcard, without a trailing slash. */
    private static String literalPart(String glob) {
        int wild = glob.length();
        for (int i = 0; i < glob.length(); i++) {
            char ch = glob.charAt(i);
            if (ch == '*' || ch == '?' || ch == '[' || ch == '{') {
                wild = i;
                break;
            }
        }
        return glob.substring(0, wild).replaceAll("/+$", "");
    }

    private static String join(String a, String b) {
        if (a.isEmpty()) {
            return b;
        }
        return b.isEmpty() ? a : a + "/" + b;
    }

    public SyncConfig.Upstream config() {
        return config;
    }

    /** How logs and metrics name this upstream: its primary URL's host. */
    public String name() {
        URI primary = config.urls().get(0);
        return primary.getHost() + (primary.getPort() > 0 ? ":" + primary.getPort() : "");
    }

    /** Whether this upstream stands for Docker Hub's names (its repositories keep {@code library/}). */
    public boolean isDockerHub() {
        return dockerHub;
    }

    /**
     * Whether the upstream is Docker Hub's own registry (not a mirror of it): no catalog to walk, and a 401 for
     * a repository that does not exist.
     */
    public boolean upstreamIsDockerHub() {
        return upstreamIsDockerHub;
    }

    Set<String> namespaces() {
        return namespaces;
    }

    /** The upstream repository a local one mirrors, if this upstream serves it. */
    public Optional<String> upstreamName(String local) {
        for (Rule rule : rules) {
            if (rule.local().matches(local)) {
                String destination = rule.content().destination();
                String name = destination.isEmpty() ? local : local.substring(Math.min(local.length(), destination.length() + 1));
                if (name.isEmpty()) {
                    continue;
                }
                if (rule.content().stripPrefix() && !rule.literalPrefix().isEmpty()) {
                    name = rule.literalPrefix() + "/" + name;
                }
                return Optional.of(name);
            }
        }
        return Optional.empty();
    }

    /** The local repository for an upstream one, by the first content rule that takes it. */
    public Optional<String> localName(String upstream) {
        for (Rule rule : rules) {
            if (rule.upstream().matches(upstream)) {
                String name = upstream;
                if (rule.content().stripPrefix() && !rule.literalPrefix().isEmpty() && name.startsWith(rule.literalPrefix())) {
                    name = name.substring(rule.literalPrefix().length()).replaceAll("^/+", "");
                }
                return Optional.of(join(rule.content().destination(), name));
            }
        }
        return Optional.empty();
    }

    /**
     * Docker Hub serves official images under {@code library/}: {@code alpine} and {@code library/alpine} are one
     * image, and kept as one local repository.
     */
    String canonical(String local) {
        if (!dockerHub) {
            return local;
        }
        Optional<String> upstream = upstreamName(local);
        if (upstream.isPresent() && !upstream.get().contains("/")) {
            return localName("library/" + upstream.get()).orElse(local);
        }
        return local;
    }

    /** Whether a name sent without any prefix (Docker's registry-mirrors) is this upstream's to serve. */
    boolean servesUnprefixed(String name) {
        return unprefixed.stream().anyMatch(g -> g.matches(name));
    }

    /** The local name of an unprefixed or {@code ns}-scoped request name: the first destination in front. */
    Optional<String> qualify(String name) {
        String upstream = dockerHub && !name.contains("/") ? "library/" + name : name;
        return localName(upstream);
    }

    /** Tag filters of the content rule that takes {@code local}, for periodic sync. */
    Optional<SyncConfig.Content> contentFor(String local) {
        return rules.stream().filter(r -> r.local().matches(local)).map(Rule::content).findFirst();
    }
}
