package dev.berth.access;

import dev.berth.meta.AccessStore;
import dev.berth.oci.ErrorCode;
import dev.berth.oci.RegistryException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * API keys for CI and the command line, as zot shapes them: {@code zak_} and 32 hex digits, shown once, stored as
 * a SHA-256, presented as the password of HTTP Basic with the owner's name. Beyond zot: scopes limit a key to
 * the repositories they match, and an administrator may cap how long a key can live.
 */
public final class ApiKeys {
    public static final String PREFIX = "zak_";
    /** lastUsed is recorded at most this often per key, so that a busy CI job does not write on every request. */
    /** Dates beyond this are mistakes (and beyond what the database's millisecond times can hold). */
    private static final Instant LATEST = Instant.parse("9999-12-31T23:59:59Z");
    private static final Duration TOUCH_EVERY = Duration.ofMinutes(1);

    private final AccessStore store;
    private final Clock clock;
    private final Duration maxLifetime;

    public ApiKeys(AccessStore store, Clock clock, Duration maxLifetime) {
        this.store = store;
        this.clock = clock;
        this.maxLifetime = maxLifetime;
    }

    /** A new key: its row, and the secret to show its owner exactly once. */
    public record Created(AccessStore.ApiKey key, String secret) {
    }

    public Created create(String owner, Identity.Account account, String label, List<String> scopes, Instant expiresAt,
                          String userAgent) {
        Instant now = clock.instant();
        if (account == null) {
            throw invalid("API keys belong to signed-in accounts");
        }
        if (expiresAt != null && !expiresAt.isAfter(now)) {
            throw invalid("expirationDate must be in the future");
        }
        if (expiresAt != null && expiresAt.isAfter(LATEST)) {
            throw invalid("expirationDate is too far in the future (9999-12-31 at the latest)");
        }
        if (maxLifetime != null) {
            Instant latest = now.plus(maxLifetime);
            if (expiresAt == null) {
                expiresAt = latest;
            } else if (expiresAt.isAfter(latest)) {
                throw invalid("expirationDate is beyond the longest lifetime this registry allows (" + maxLifetime + ")");
            }
        }
        for (String scope : scopes) {
            if (scope == null || scope.isBlank()) {
                throw invalid("scopes must be repository patterns such as team/** ; an empty one matches nothing");
            }
        }
        if (label != null && label.length() > 255) {
            throw invalid("label is longer than 255 characters");
        }
        String secret = Tokens.randomHex(16);
        AccessStore.ApiKey key = new AccessStore.ApiKey(UUID.randomUUID().toString(), Tokens.hash(secret), owner,
                account.name(), label == null ? "" : label, scopes, now, expiresAt, null, truncate(userAgent));
        store.addApiKey(key);
        return new Created(key, PREFIX + secret);
    }

    /** The longest a key may live, or null for no limit ({@code apikeyMaxLifetime}). */
    public Duration maxLifetime() {
        return maxLifetime;
    }

    public List<AccessStore.ApiKey> list(String owner) {
        return store.apiKeys(owner);
    }

    public List<AccessStore.ApiKey> all() {
        return store.allApiKeys();
    }

    public boolean revoke(String owner, String id) {
        return store.deleteApiKey(owner, id);
    }

    public int revokeAll(String owner) {
        return store.deleteApiKeys(owner);
    }

    public boolean expired(AccessStore.ApiKey key) {
        return key.expiresAt() != null && !clock.instant().isBefore(key.expiresAt());
    }

    /** The key, if {@code presented} is a live key of {@code user}; records that it was used. */
    Optional<AccessStore.ApiKey> verify(String user, String presented) {
        if (!presented.startsWith(PREFIX)) {
            return Optional.empty();
        }
        String hash = Tokens.hash(presented.substring(PREFIX.length()));
        Optional<AccessStore.ApiKey> found = store.apiKeyByHash(hash);
        if (found.isEmpty()) {
            return Optional.empty();
        }
        AccessStore.ApiKey key = found.get();
        if (!Tokens.constantTimeEquals(key.secretHash(), hash) || !key.owner().equals(user) || expired(key)) {
            return Optional.empty();
        }
        Instant now = clock.instant();
        if (key.lastUsedAt() == null || key.lastUsedAt().plus(TOUCH_EVERY).isBefore(now)) {
            store.touchApiKey(key.id(), now);
        }
        return found;
    }

    private static String truncate(String userAgent) {
        return userAgent == null || userAgent.length() <= 512 ? userAgent : userAgent.substring(0, 512);
    }

    private static RegistryException invalid(String message) {
        return RegistryException.of(ErrorCode.UNSUPPORTED, 400, message);
    }
}
