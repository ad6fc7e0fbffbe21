package dev.berth.access;

import java.util.List;
import java.util.Set;

/**
 * Who is calling. {@code source} is how this request proved it; {@code account} is where the account lives (an
 * htpasswd file, a directory, an OpenID provider, a certificate authority), which decides how its groups are
 * known. {@code scopes}, for an API key that has them, are repository globs the key is limited to; empty means
 * the key may act wherever its owner may.
 */
public record Identity(String name, Set<String> groups, Source source, Account account, List<String> scopes) {
    /** How a request proved who is calling. */
    public enum Source { ANONYMOUS, PASSWORD, API_KEY, SESSION, CERTIFICATE }

    /** Where an account lives. */
    public enum Account { HTPASSWD, LDAP, OIDC, MTLS }

    public static final Identity ANONYMOUS = new Identity(null, Set.of(), Source.ANONYMOUS, null, List.of());

    public Identity {
        groups = Set.copyOf(groups);
        scopes = List.copyOf(scopes);
    }

    /** A caller who signed in directly (not with a key or a session) to an account of this kind. */
    public static Identity of(String name, Set<String> groups, Account account) {
        Source source = switch (account) {
            case HTPASSWD, LDAP -> Source.PASSWORD;
            case MTLS -> Source.CERTIFICATE;
            case OIDC -> Source.SESSION;
        };
        return new Identity(name, groups, source, account, List.of());
    }

    public boolean isAnonymous() {
        return source == Source.ANONYMOUS;
    }

    /** The name for logs and audit lines. */
    public String display() {
        return isAnonymous() ? "anonymous" : name;
    }
}
