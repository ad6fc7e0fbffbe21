package dev.berth.meta;

import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The rows of access control: users as last seen, API keys, sessions and OpenID logins in progress. Secrets are
 * stored only as hashes; each method is one transaction.
 */
public interface AccessStore {

    /** An account whose groups come from an identity provider, as it was at its last sign-in. */
    record User(String name, String account, Set<String> groups, Instant lastLogin) {
        public User {
            groups = Set.copyOf(groups);
        }
    }

    /** An API key; {@code ownerAccount} is where its owner's account lives (htpasswd, ldap, oidc, mtls). */
    record ApiKey(String id, String secretHash, String owner, String ownerAccount, String label, List<String> scopes,
                  Instant createdAt, Instant expiresAt, Instant lastUsedAt, String creatorUserAgent) {
        public ApiKey {
            scopes = List.copyOf(scopes);
        }
    }

    record Session(String tokenHash, String username, String account, String provider, Set<String> groups,
                   String csrfToken, Instant createdAt, Instant expiresAt) {
        public Session {
            groups = Set.copyOf(groups);
        }
    }

    record LoginAttempt(String stateHash, String provider, String nonce, String codeVerifier, String returnTo,
                        Instant createdAt) {
    }

    /** Records a sign-in, replacing what was known of the account. */
    void saveUser(User user);

    Optional<User> user(String name, String account);

    void addApiKey(ApiKey key);

    Optional<ApiKey> apiKeyByHash(String secretHash);

    List<ApiKey> apiKeys(String owner);

    /** Every key of every user, for the expiry metric. */
    List<ApiKey> allApiKeys();

    boolean deleteApiKey(String owner, String id);

    int deleteApiKeys(String owner);

    void touchApiKey(String id, Instant usedAt);

    void addSession(Session session);

    Optional<Session> session(String tokenHash);

    void deleteSession(String tokenHash);

    /** Removes sessions and login attempts that ended before {@code now}; returns how many went. */
    int deleteExpired(Instant now, Instant loginAttemptsBefore);

    void addLoginAttempt(LoginAttempt attempt);

    /** Returns and removes a login attempt: a state can be used once. */
    Optional<LoginAttempt> takeLoginAttempt(String stateHash);
}
