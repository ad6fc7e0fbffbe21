package dev.berth.config;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * {@code http.auth}: who may sign in, and how. Every part is optional; with none configured Berth has no
 * notion of users and everybody is anonymous. Records holding secrets print them masked.
 */
public record AuthConfig(Path htpasswd, Ldap ldap, boolean apiKeys, Map<String, OidcProvider> openid,
                         List<String> callbackAllowOrigins, Duration failDelay, Boolean secureSession, Mtls mtls,
                         Duration apiKeyMaxLifetime, Duration sessionTtl) {

    public static final Duration DEFAULT_SESSION_TTL = Duration.ofHours(2);

    public AuthConfig {
        openid = openid == null ? Map.of() : Map.copyOf(openid);
        callbackAllowOrigins = callbackAllowOrigins == null ? List.of() : List.copyOf(callbackAllowOrigins);
    }

    /** Whether any way of signing in is configured (an API key needs an owner who signed in some other way). */
    public boolean anyAuthenticator() {
        return htpasswd != null || ldap != null || !openid.isEmpty() || mtls != null;
    }

    /** Bind and look users up in an LDAP directory. {@code bindPassword} comes from {@code credentialsFile}. */
    public record Ldap(String address, int port, boolean startTls, boolean insecure, boolean skipVerify,
                       boolean subtreeSearch, String baseDn, String userAttribute, String userGroupAttribute,
                       String userFilter, String bindDn, String bindPassword, Path caCert) {
        @Override
        public String toString() {
            return "Ldap[" + address + ":" + port + ", baseDn=" + baseDn + ", bindDn=" + bindDn + ", bindPassword=***]";
        }
    }

    /**
     * An OpenID Connect provider. {@code key} is its name in the config ({@code oidc}, {@code google},
     * {@code gitlab}) and in {@code /zot/auth/login?provider=}; {@code name} is what a login page shows.
     */
    public record OidcProvider(String key, String name, URI issuer, String clientId, String clientSecret,
                               List<String> scopes, String usernameClaim, String groupsClaim) {
        public OidcProvider {
            scopes = List.copyOf(scopes);
        }

        @Override
        public String toString() {
            return "OidcProvider[" + key + ", issuer=" + issuer + ", clientId=" + clientId + ", clientSecret="
                    + (clientSecret == null ? "none" : "***") + ", scopes=" + scopes + "]";
        }
    }

    /** Client certificates: which certificate field names the user, tried in order. */
    public record Mtls(List<String> identityAttributes, String uriSanPattern) {
        public Mtls {
            identityAttributes = List.copyOf(identityAttributes);
        }
    }
}
