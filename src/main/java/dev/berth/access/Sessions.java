package dev.berth.access;

import dev.berth.meta.AccessStore;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.Set;

/**
 * Browser sessions, kept in the database so that they survive a restart and are valid on every node. The cookie
 * holds a random token; the database holds only its hash.
 */
public final class Sessions {
    private final AccessStore store;
    private final Clock clock;
    private final Duration ttl;

    public Sessions(AccessStore store, Clock clock, Duration ttl) {
        this.store = store;
        this.clock = clock;
        this.ttl = ttl;
    }

    /** A session and the token to put in its cookie. */
    public record Opened(String token, AccessStore.Session session) {
    }

    public Opened open(String user, Identity.Account account, String provider, Set<String> groups) {
        String token = Tokens.random(32);
        Instant now = clock.instant();
        AccessStore.Session session = new AccessStore.Session(Tokens.hash(token), user, account.name(), provider,
                groups, Tokens.random(32), now, now.plus(ttl));
        store.addSession(session);
        return new Opened(token, session);
    }

    public Optional<AccessStore.Session> find(String token) {
        if (token == null || token.isEmpty() || token.length() > 128) {
            return Optional.empty();
        }
        return store.session(Tokens.hash(token)).filter(s -> clock.instant().isBefore(s.expiresAt()));
    }

    public void close(String token) {
        if (token != null && !token.isEmpty() && token.length() <= 128) {
            store.deleteSession(Tokens.hash(token));
        }
    }

    public Duration ttl() {
        return ttl;
    }
}
