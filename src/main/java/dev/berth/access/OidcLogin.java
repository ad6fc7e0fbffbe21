package dev.berth.access;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jwt.JWT;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.oauth2.sdk.AuthorizationCode;
import com.nimbusds.oauth2.sdk.AuthorizationCodeGrant;
import com.nimbusds.oauth2.sdk.ErrorObject;
import com.nimbusds.oauth2.sdk.ResponseType;
import com.nimbusds.oauth2.sdk.Scope;
import com.nimbusds.oauth2.sdk.TokenErrorResponse;
import com.nimbusds.oauth2.sdk.TokenRequest;
import com.nimbusds.oauth2.sdk.TokenResponse;
import com.nimbusds.oauth2.sdk.auth.ClientSecretBasic;
import com.nimbusds.oauth2.sdk.auth.Secret;
import com.nimbusds.oauth2.sdk.http.HTTPRequest;
import com.nimbusds.oauth2.sdk.id.ClientID;
import com.nimbusds.oauth2.sdk.id.Issuer;
import com.nimbusds.oauth2.sdk.id.State;
import com.nimbusds.oauth2.sdk.pkce.CodeChallengeMethod;
import com.nimbusds.oauth2.sdk.pkce.CodeVerifier;
import com.nimbusds.oauth2.sdk.token.AccessToken;
import com.nimbusds.openid.connect.sdk.AuthenticationRequest;
import com.nimbusds.openid.connect.sdk.Nonce;
import com.nimbusds.openid.connect.sdk.OIDCTokenResponse;
import com.nimbusds.openid.connect.sdk.OIDCTokenResponseParser;
import com.nimbusds.openid.connect.sdk.UserInfoRequest;
import com.nimbusds.openid.connect.sdk.UserInfoResponse;
import com.nimbusds.openid.connect.sdk.claims.UserInfo;
import com.nimbusds.openid.connect.sdk.op.OIDCProviderMetadata;
import com.nimbusds.openid.connect.sdk.validators.IDTokenValidator;
import dev.berth.config.AuthConfig;
import dev.berth.meta.AccessStore;
import dev.berth.oci.ErrorCode;
import dev.berth.oci.RegistryException;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Signing in through an OpenID Connect provider: the authorization code flow with PKCE, state and nonce. The
 * provider's metadata is discovered from its issuer on first use (and again after a failure), so Berth starts
 * even while the provider is down. The ID token is checked (signature, issuer, audience, expiry, nonce); the
 * username and groups come from the claims {@code claimMapping} names, in the ID token or the userinfo.
 */
public final class OidcLogin {
    private static final Logger LOG = LoggerFactory.getLogger(OidcLogin.class);
    private static final Duration ATTEMPT_LIFETIME = Duration.ofMinutes(10);
    private static final int CONNECT_TIMEOUT_MS = 5_000;
    private static final int READ_TIMEOUT_MS = 15_000;

    private final Map<String, AuthConfig.OidcProvider> providers;
    private final AccessStore store;
    private final Clock clock;
    private final Map<String, OIDCProviderMetadata> metadata = new ConcurrentHashMap<>();

    public OidcLogin(Map<String, AuthConfig.OidcProvider> providers, AccessStore store, Clock clock) {
        this.providers = providers;
        this.store = store;
        this.clock = clock;
    }

    /** Where to send the browser, and the state to bind to it with a cookie. */
    public record Start(URI authorizationUrl, String state) {
    }

    /** Who signed in, and where they were going. */
    public record SignedIn(String provider, String username, Set<String> groups, String returnTo) {
    }

    public boolean knows(String provider) {
        return providers.containsKey(provider);
    }

    public Map<String, AuthConfig.OidcProvider> providers() {
        return providers;
    }

    public Start start(String providerKey, URI redirectUri, String returnTo) {
        AuthConfig.OidcProvider provider = provider(providerKey);
        OIDCProviderMetadata meta = metadata(provider);
        String state = Tokens.random(32);
        String nonce = Tokens.random(32);
        CodeVerifier verifier = new CodeVerifier();
        store.addLoginAttempt(new AccessStore.LoginAttempt(Tokens.hash(state), providerKey, nonce, verifier.getValue(),
                returnTo, clock.instant()));
        AuthenticationRequest request = new AuthenticationRequest.Builder(new ResponseType(ResponseType.Value.CODE),
                new Scope(provider.scopes().toArray(String[]::new)), new ClientID(provider.clientId()), redirectUri)
                .endpointURI(meta.getAuthorizationEndpointURI())
                .state(new State(state))
                .nonce(new Nonce(nonce))
                .codeChallenge(verifier, CodeChallengeMethod.S256)
                .build();
        return new Start(request.toURI(), state);
    }

    /**
     * Completes a sign-in from the provider's redirect. {@code cookieState} is the state the browser was given
     * when it set out; it must match, so that nobody can complete a login started in another browser.
     */
    public SignedIn finish(String providerKey, URI redirectUri, String state, String code, String cookieState) {
        AuthConfig.OidcProvider provider = provider(providerKey);
        if (state == null || code == null || cookieState == null || !Tokens.constantTimeEquals(state, cookieState)) {
            throw refused("the sign-in does not belong to this browser (state mismatch); start again");
        }
        AccessStore.LoginAttempt attempt = store.takeLoginAttempt(Tokens.hash(state))
                .filter(a -> a.provider().equals(providerKey))
                .filter(a -> a.createdAt().plus(ATTEMPT_LIFETIME).isAfter(clock.instant()))
                .orElseThrow(() -> refused("the sign-in expired or was already used; start again"));
        OIDCProviderMetadata meta = metadata(provider);
        try {
            ClientID clientId = new ClientID(provider.clientId());
            AuthorizationCodeGrant grant = new AuthorizationCodeGrant(new AuthorizationCode(code), redirectUri,
                    new CodeVerifier(attempt.codeVerifier()));
            TokenRequest tokenRequest = provider.clientSecret() == null
                    ? new TokenRequest(meta.getTokenEndpointURI(), clientId, grant)
                    : new TokenRequest(meta.getTokenEndpointURI(), new ClientSecretBasic(clientId, new Secret(provider.clientSecret())), grant);
            TokenResponse response = OIDCTokenResponseParser.parse(send(tokenRequest.toHTTPRequest()));
            if (!response.indicatesSuccess()) {
                ErrorObject error = ((TokenErrorResponse) response).getErrorObject();
                throw refused("the provider refused the code: " + error.getCode() + " " + error.getDescription());
            }
            OIDCTokenResponse tokens = (OIDCTokenResponse) response.toSuccessResponse();
            JWT idToken = tokens.getOIDCTokens().getIDToken();
            JWTClaimsSet idClaims = validator(provider, meta, idToken).validate(idToken, new Nonce(attempt.nonce())).toJWTClaimsSet();
            Map<String, Object> userInfo = userInfo(meta, tokens.getOIDCTokens().getAccessToken());
            String username = firstText(provider.usernameClaim(), userInfo, idClaims);
            if (username == null) {
                username = firstText("email", userInfo, idClaims);
            }
            if (username == null || username.isBlank()) {
                throw refused("the provider named no user (claim " + provider.usernameClaim() + " is empty)");
            }
            Set<String> groups = new LinkedHashSet<>();
            groups.addAll(texts(idClaims.getClaim(provider.groupsClaim())));
            groups.addAll(texts(userInfo.get(provider.groupsClaim())));
            return new SignedIn(providerKey, username, groups, attempt.returnTo());
        } catch (RegistryException e) {
            throw e;
        } catch (Exception e) {
            LOG.warn("OpenID sign-in through {} failed: {}", providerKey, e.toString());
            throw refused("the sign-in could not be completed with the provider");
        }
    }

    /** The provider's end-session URL for a browser signing out, if the provider has one. */
    public Optional<URI> endSessionUrl(String providerKey, URI afterLogout) {
        AuthConfig.OidcProvider provider = providers.get(providerKey);
        if (provider == null) {
            return Optional.empty();
        }
        try {
            URI endpoint = metadata(provider).getEndSessionEndpointURI();
            if (endpoint == null) {
                return Optional.empty();
            }
            String query = "client_id=" + encode(provider.clientId()) + "&post_logout_redirect_uri=" + encode(afterLogout.toString());
            return Optional.of(URI.create(endpoint + (endpoint.getQuery() == null ? "?" : "&") + query));
        } catch (RegistryException e) {
            return Optional.empty();
        }
    }

    private AuthConfig.OidcProvider provider(String key) {
        AuthConfig.OidcProvider provider = providers.get(key);
        if (provider == null) {
            throw RegistryException.of(ErrorCode.UNSUPPORTED, 400, "unknown login provider: " + key);
        }
        return provider;
    }

    private OIDCProviderMetadata metadata(AuthConfig.OidcProvider provider) {
        OIDCProviderMetadata known = metadata.get(provider.key());
        if (known != null) {
            return known;
        }
        try {
            OIDCProviderMetadata found = OIDCProviderMetadata.resolve(new Issuer(provider.issuer()), CONNECT_TIMEOUT_MS, READ_TIMEOUT_MS);
            metadata.put(provider.key(), found);
            return found;
        } catch (Exception e) {
            LOG.warn("cannot discover OpenID provider {} at {}: {}", provider.key(), provider.issuer(), e.toString());
            throw RegistryException.of(ErrorCode.UNSUPPORTED, 502, "the login provider cannot be reached; try again later");
        }
    }

    private static IDTokenValidator validator(AuthConfig.OidcProvider provider, OIDCProviderMetadata meta, JWT idToken)
            throws Exception {
        if (!(idToken.getHeader().getAlgorithm() instanceof JWSAlgorithm algorithm)) {
            throw refused("the ID token is not signed");
        }
        List<JWSAlgorithm> allowed = meta.getIDTokenJWSAlgs() == null ? List.of(JWSAlgorithm.RS256) : meta.getIDTokenJWSAlgs();
        if (!allowed.contains(algorithm)) {
            throw refused("the ID token is signed with " + algorithm + ", which the provider does not announce");
        }
        Issuer issuer = meta.getIssuer();
        ClientID clientId = new ClientID(provider.clientId());
        if (JWSAlgorithm.Family.HMAC_SHA.contains(algorithm)) {
            if (provider.clientSecret() == null) {
                throw refused("the ID token is signed with the client secret, but none is configured");
            }
            return new IDTokenValidator(issuer, clientId, algorithm, new Secret(provider.clientSecret()));
        }
        return new IDTokenValidator(issuer, clientId, algorithm, meta.getJWKSetURI().toURL());
    }

    private static Map<String, Object> userInfo(OIDCProviderMetadata meta, AccessToken accessToken) throws Exception {
        if (meta.getUserInfoEndpointURI() == null || accessToken == null) {
            return Map.of();
        }
        UserInfoResponse response = UserInfoResponse.parse(send(new UserInfoRequest(meta.getUserInfoEndpointURI(), accessToken)
                .toHTTPRequest()));
        if (!response.indicatesSuccess()) {
            return Map.of();
        }
        UserInfo info = response.toSuccessResponse().getUserInfo();
        return info == null ? Map.of() : info.toJSONObject();
    }

    private static com.nimbusds.oauth2.sdk.http.HTTPResponse send(HTTPRequest request) throws java.io.IOException {
        request.setConnectTimeout(CONNECT_TIMEOUT_MS);
        request.setReadTimeout(READ_TIMEOUT_MS);
        return request.send();
    }

    private static String firstText(String claim, Map<String, Object> userInfo, JWTClaimsSet idClaims) {
        Object value = userInfo.get(claim);
        if (!(value instanceof String) || ((String) value).isBlank()) {
            value = idClaims.getClaim(claim);
        }
        return value instanceof String s && !s.isBlank() ? s : null;
    }

    private static List<String> texts(Object value) {
        List<String> result = new ArrayList<>();
        if (value instanceof String s) {
            result.add(s);
        } else if (value instanceof Collection<?> c) {
            for (Object item : c) {
                if (item instanceof String s) {
                    result.add(s);
                }
            }
        }
        return result;
    }

    private static String encode(String s) {
        return java.net.URLEncoder.encode(s, java.nio.charset.StandardCharsets.UTF_8);
    }

    private static RegistryException refused(String message) {
        return RegistryException.of(ErrorCode.UNAUTHORIZED, 401, message);
    }
}
