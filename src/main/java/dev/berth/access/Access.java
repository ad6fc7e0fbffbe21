package dev.berth.access;

import dev.berth.config.AuthConfig;
import dev.berth.config.BerthConfig;
import dev.berth.meta.AccessStore;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;

/** Access control as one whole: who is calling, what they may do, and the ways of signing in. */
public record Access(AuthConfig config, AccessPolicy policy, Authenticator authenticator, ApiKeys apiKeys,
                     Sessions sessions, OidcLogin oidc, String realm) {

    public static Access create(BerthConfig.Http http, AccessStore store, Clock clock) throws Exception {
        AuthConfig auth = http.auth();
        AccessPolicy policy = AccessPolicy.of(auth, http.accessControl());
        ApiKeys apiKeys = new ApiKeys(store, clock, auth == null ? null : auth.apiKeyMaxLifetime());
        Sessions sessions = new Sessions(store, clock, auth == null ? AuthConfig.DEFAULT_SESSION_TTL : auth.sessionTtl());
        OidcLogin oidc = new OidcLogin(auth == null ? Map.of() : auth.openid(), store, clock);
        Authenticator authenticator = new Authenticator(auth, policy, apiKeys, sessions, store, clock);
        return new Access(auth, policy, authenticator, apiKeys, sessions, oidc, http.realm());
    }

    /** Whether anybody can sign in at all; without it every caller is anonymous. */
    public boolean enabled() {
        return config != null && config.anyAuthenticator();
    }

    /** How long to hold back the answer to a failed sign-in or a refusal (zot's failDelay). */
    public Duration failDelay() {
        return config == null ? Duration.ZERO : config.failDelay();
    }
}
