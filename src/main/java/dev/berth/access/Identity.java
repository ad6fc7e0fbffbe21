package dev.berth.access;

import java.util.List;
import java.util.Set;

/**
 * Who is calling. {@code scopes}, for an API key that has them, are repository globs the key is limited to;
 * empty means the key may act wherever its owner may.
 */
public record Identity(String name, Set<String> groups, Source source, List<String> scopes) {
    /** How the caller proved who they are. */
    public enum Source { ANONYMOUS, HTPASSWD, LDAP, API_KEY, SESSION, MTLS }

    public static final Identity ANONYMOUS = new Identity(null, Set.of(), Source.ANONYMOUS, List.of());

    public Identity {
        groups = Set.copyOf(groups);
        scopes = List.copyOf(scopes);
    }

    public static Identity of(String name, Set<String> groups, Source source) {
        return new Identity(name, groups, source, List.of());
    }

    public boolean isAnonymous() {
        return source == Source.ANONYMOUS;
    }

    /** The name for logs and audit lines. */
    public String display() {
        return isAnonymous() ? "anonymous" : name;
    }
}
