package dev.berth.proxy;

import dev.berth.config.SyncConfig;
import dev.berth.oci.ErrorCode;
import dev.berth.oci.Names;
import dev.berth.oci.RegistryException;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/** Every configured upstream, and how a request's repository name finds the one that serves it. */
public final class Mirrors {
    public static final Mirrors NONE = new Mirrors(List.of());

    private final List<Mirror> mirrors;

    public Mirrors(List<Mirror> mirrors) {
        this.mirrors = List.copyOf(mirrors);
    }

    public static Mirrors of(SyncConfig sync) {
        if (sync == null || !sync.enabled()) {
            return NONE;
        }
        return new Mirrors(sync.registries().stream().map(Mirror::new).toList());
    }

    public boolean isEmpty() {
        return mirrors.isEmpty();
    }

    public List<Mirror> all() {
        return mirrors;
    }

    /** A mirrored repository: the upstream that serves it and its name there. */
    public record Route(Mirror mirror, String upstreamRepository) {
    }

    /** The upstream a local repository (already canonical) is mirrored from, for on-demand pulls. */
    public Optional<Route> route(String local) {
        for (Mirror m : mirrors) {
            if (!m.config().onDemand()) {
                continue;
            }
            Optional<String> upstream = m.upstreamName(local);
            if (upstream.isPresent()) {
                return Optional.of(new Route(m, upstream.get()));
            }
        }
        return Optional.empty();
    }

    /** Whether a local repository belongs to some upstream (on demand or not): pushes there are refused. */
    public Optional<Mirror> owner(String local) {
        return mirrors.stream().filter(m -> m.upstreamName(local).isPresent()).findFirst();
    }

    /**
     * The local repository a request means. {@code ns} (containerd's mirror parameter) names the registry the
     * client thinks it talks to; an {@code ns} no upstream answers to is refused, never dialled. A name with no
     * prefix may belong to an upstream that serves such names ({@code unprefixed}). Docker Hub's one-segment
     * names gain {@code library/}.
     */
    public String resolve(String name, String ns, String ownHost) {
        if (ns != null && !ns.isBlank() && !ns.equalsIgnoreCase(ownHost)) {
            String host = ns.toLowerCase(Locale.ROOT);
            for (Mirror m : mirrors) {
                if (m.namespaces().contains(host)) {
                    return Names.requireRepository(m.qualify(name).orElseThrow(() -> RegistryException.of(
                            ErrorCode.NAME_UNKNOWN, "the mirror of " + ns + " does not serve " + name)));
                }
            }
            throw RegistryException.of(ErrorCode.NAME_UNKNOWN, "no upstream is configured for ns=" + printable(ns));
        }
        for (Mirror m : mirrors) {
            if (m.upstreamName(name).isPresent()) {
                return m.canonical(name);
            }
        }
        for (Mirror m : mirrors) {
            if (m.servesUnprefixed(name)) {
                Optional<String> local = m.qualify(name);
                if (local.isPresent()) {
                    return Names.requireRepository(local.get());
                }
            }
        }
        return name;
    }

    private static String printable(String s) {
        String cut = s.length() > 80 ? s.substring(0, 80) : s;
        return cut.replaceAll("[^\\x21-\\x7e]", "?");
    }
}
