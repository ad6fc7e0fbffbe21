package dev.berth.http;

import com.fasterxml.jackson.databind.JsonNode;
import dev.berth.Berth;
import dev.berth.access.Access;
import dev.berth.access.ApiKeys;
import dev.berth.access.Identity;
import dev.berth.access.OidcLogin;
import dev.berth.access.Sessions;
import dev.berth.config.AuthConfig;
import dev.berth.meta.AccessStore;
import dev.berth.oci.ErrorCode;
import dev.berth.oci.RegistryException;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;

/**
 * zot's authentication endpoints: {@code /zot/auth/login}, {@code /zot/auth/callback/<provider>},
 * {@code /zot/auth/logout} and {@code /zot/auth/apikey}, and {@code /v2/_zot/ext/mgmt}, which tells clients which
 * ways of signing in exist.
 */
final class AuthHandler {
    static final String PREFIX = "/zot/auth/";
    private static final String STATE_COOKIE = "berth_oidc_state";
    private static final String CALLBACK = PREFIX + "callback/";
    private static final int MAX_KEY_REQUEST = 8 * 1024;
    /** Go's zero time, which zot prints for "never". */
    private static final String NEVER = "0001-01-01T00:00:00Z";

    /** Two values for one key (two "scopes") must not leave the choice to the parser. */
    private static final com.fasterxml.jackson.databind.ObjectMapper STRICT_JSON = com.fasterxml.jackson.databind.json.JsonMapper
            .builder().enable(com.fasterxml.jackson.core.StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();

    private final Gate gate;
    private final Access access;
    private final URI externalUrl;
    private final Cookies cookies;

    AuthHandler(Gate gate, URI externalUrl, Cookies cookies) {
        this.gate = gate;
        this.access = gate.access();
        this.externalUrl = externalUrl;
        this.cookies = cookies;
    }

    void handle(Exchange ex) throws IOException {
        String path = ex.path();
        if (path.equals(PREFIX + "login")) {
            login(ex);
        } else if (path.startsWith(CALLBACK)) {
            callback(ex, path.substring(CALLBACK.length()));
        } else if (path.equals(PREFIX + "logout")) {
            onlyMethods(ex, "POST");
            logout(ex);
        } else if (path.equals(PREFIX + "apikey")) {
            apiKeys(ex);
        } else {
            throw RegistryException.of(ErrorCode.UNSUPPORTED, 404, "no such endpoint");
        }
    }

    // --- OpenID Connect ---------------------------------------------------------------------------------------

    private void login(Exchange ex) {
        onlyMethods(ex, "GET", "POST");
        String provider = ex.query("provider");
        if (provider == null || !access.oidc().knows(provider)) {
            throw RegistryException.of(ErrorCode.UNSUPPORTED, 400, "unknown login provider: " + provider);
        }
        OidcLogin.Start start = access.oidc().start(provider, redirectUri(ex, provider), returnTo(ex.query("callback_ui")));
        Response.addCookie(ex.response(), cookies.lax(STATE_COOKIE, start.state(), CALLBACK, Duration.ofMinutes(10)));
        ex.header("Location", start.authorizationUrl().toString()).header("Cache-Control", "no-store");
        ex.send(302);
    }

    private void callback(Exchange ex, String provider) {
        onlyMethods(ex, "GET");
        if (!access.oidc().knows(provider)) {
            throw RegistryException.of(ErrorCode.UNSUPPORTED, 404, "unknown login provider: " + provider);
        }
        if (ex.query("error") != null) {
            gate.delay();
            throw RegistryException.of(ErrorCode.UNAUTHORIZED, 401, "the provider refused the sign-in: "
                    + printable(ex.query("error")));
        }
        String cookieState = Cookies.read(ex.request(), STATE_COOKIE);
        OidcLogin.SignedIn signedIn;
        try {
            signedIn = access.oidc().finish(provider, redirectUri(ex, provider), ex.query("state"), ex.query("code"), cookieState);
        } catch (RegistryException e) {
            gate.delay();
            throw e;
        }
        access.authenticator().rememberProviderSignIn(signedIn.username(), signedIn.groups());
        Sessions.Opened session = access.sessions().open(signedIn.username(), Identity.Account.OIDC, provider,
                signedIn.groups());
        Response.addCookie(ex.response(), cookies.session(session.token(), access.sessions().ttl()));
        Response.addCookie(ex.response(), cookies.lax(STATE_COOKIE, "", CALLBACK, Duration.ZERO));
        ex.header("Cache-Control", "no-store");
        if (signedIn.returnTo() != null) {
            ex.header("Location", signedIn.returnTo());
            ex.send(302);
        } else {
            ex.send(201);
        }
    }

    private void logout(Exchange ex) {
        // Like every use of a browser session on these endpoints: zot's UI header, which another site's form cannot
        // send, so that no page elsewhere can sign people out. Asked of every call: a cross-site form arrives
        // without the (SameSite) cookie, and even then must not get an answer that clears it.
        if (!Gate.fromZotUi(ex) || "cross-site".equals(ex.header("Sec-Fetch-Site"))) {
            throw RegistryException.of(ErrorCode.DENIED, 403, "signing out needs the header "
                    + Gate.UI_CLIENT_HEADER + ": zot-ui (or the sign-out button of Berth's pages)");
        }
        Map<String, Object> body = new LinkedHashMap<>();
        String token = Cookies.read(ex.request(), Gate.SESSION_COOKIE);
        if (token != null) {
            access.sessions().find(token).ifPresent(session -> {
                if (session.provider() != null) {
                    access.oidc().endSessionUrl(session.provider(), origin(ex).resolve("/login"))
                            .ifPresent(url -> body.put("endSessionUrl", url.toString()));
                }
            });
            access.sessions().close(token);
        }
        Response.addCookie(ex.response(), cookies.session("", Duration.ZERO));
        ex.header("Cache-Control", "no-store");
        ex.sendJson(200, body);
    }

    // --- API keys --------------------------------------------------------------------------------------------

    private void apiKeys(Exchange ex) throws IOException {
        onlyMethods(ex, "GET", "POST", "DELETE");
        if (!access.enabled() || !access.config().apiKeys()) {
            throw RegistryException.of(ErrorCode.UNSUPPORTED, 404, "API keys are not enabled (http.auth.apikey)");
        }
        Identity who = gate.identify(ex);
        ex.identity(who);
        if (who.isAnonymous()) {
            throw gate.refusal(who, null, dev.berth.access.Action.READ);
        }
        if (who.source() == Identity.Source.API_KEY) {
            gate.delay();
            throw RegistryException.of(ErrorCode.DENIED, 403, "an API key cannot manage API keys; sign in as the user");
        }
        String owner = who.name();
        String other = ex.query("user");
        if (other != null && !other.equals(owner)) {
            if (ex.method().equals("POST") || !access.policy().isAdmin(who)) {
                gate.delay();
                throw RegistryException.of(ErrorCode.DENIED, 403, "only administrators may see or revoke others' keys");
            }
            owner = other;
        }
        ex.header("Cache-Control", "no-store");
        switch (ex.method()) {
            case "GET" -> {
                List<Map<String, Object>> keys = new ArrayList<>();
                for (AccessStore.ApiKey key : access.apiKeys().list(owner)) {
                    keys.add(describe(key));
                }
                ex.sendJson(200, Map.of("apiKeys", keys));
            }
            case "POST" -> createKey(ex, owner);
            default -> {
                if ("true".equalsIgnoreCase(ex.query("all"))) {
                    ex.sendJson(200, Map.of("revoked", access.apiKeys().revokeAll(owner)));
                    return;
                }
                String id = ex.query("id");
                if (id == null || id.isBlank()) {
                    throw RegistryException.of(ErrorCode.UNSUPPORTED, 400, "give the key to revoke as ?id=<uuid>, or ?all=true");
                }
                access.apiKeys().revoke(owner, id);
                ex.sendJson(200, Map.of());
            }
        }
    }

    private void createKey(Exchange ex, String owner) throws IOException {
        byte[] body = ex.bodyBytes(MAX_KEY_REQUEST, ErrorCode.UNSUPPORTED);
        JsonNode request;
        try {
            request = STRICT_JSON.readTree(body);
        } catch (IOException e) {
            throw RegistryException.of(ErrorCode.UNSUPPORTED, 400, "the body must be JSON: {label, scopes, expirationDate}");
        }
        if (request == null || !request.isObject()) {
            throw RegistryException.of(ErrorCode.UNSUPPORTED, 400, "the body must be a JSON object");
        }
        String label = request.path("label").isTextual() ? request.get("label").textValue() : "";
        List<String> scopes = new ArrayList<>();
        if (request.has("scopes") && !request.get("scopes").isNull()) {
            if (!request.get("scopes").isArray()) {
                throw RegistryException.of(ErrorCode.UNSUPPORTED, 400, "scopes must be an array of repository patterns");
            }
            for (JsonNode scope : request.get("scopes")) {
                if (!scope.isTextual()) {
                    throw RegistryException.of(ErrorCode.UNSUPPORTED, 400, "scopes must be an array of repository patterns");
                }
                scopes.add(scope.textValue());
            }
        }
        Instant expires = null;
        JsonNode date = request.get("expirationDate");
        if (date != null && !date.isNull() && !(date.isTextual() && date.textValue().isEmpty())) {
            try {
                expires = OffsetDateTime.parse(date.asText()).toInstant();
            } catch (java.time.DateTimeException | ArithmeticException e) {
                throw RegistryException.of(ErrorCode.UNSUPPORTED, 400, "expirationDate must be an RFC 3339 time, e.g."
                        + " 2027-03-01T00:00:00Z");
            }
        }
        ApiKeys.Created created = access.apiKeys().create(owner, ex.identity().account(), label, scopes, expires,
                ex.header("User-Agent"));
        Map<String, Object> answer = describe(created.key());
        answer.put("apiKey", created.secret());
        ex.sendJson(201, answer);
    }

    private Map<String, Object> describe(AccessStore.ApiKey key) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("createdAt", key.createdAt().toString());
        d.put("expirationDate", key.expiresAt() == null ? NEVER : key.expiresAt().toString());
        d.put("isExpired", access.apiKeys().expired(key));
        d.put("creatorUa", key.creatorUserAgent() == null ? "" : key.creatorUserAgent());
        d.put("generatedBy", "manual");
        d.put("lastUsed", key.lastUsedAt() == null ? NEVER : key.lastUsedAt().toString());
        d.put("label", key.label());
        d.put("scopes", key.scopes());
        d.put("uuid", key.id());
        return d;
    }

    // --- mgmt ------------------------------------------------------------------------------------------------

    /** What zot's UI and clients read to learn how to sign in. Needs no credentials. */
    void mgmt(Exchange ex) {
        Map<String, Object> auth = new LinkedHashMap<>();
        AuthConfig config = access.config();
        if (config != null && config.anyAuthenticator()) {
            if (config.htpasswd() != null || config.ldap() != null) {
                auth.put("htpasswd", Map.of());
            }
            if (!config.openid().isEmpty()) {
                Map<String, Object> providers = new LinkedHashMap<>();
                config.openid().forEach((key, p) -> providers.put(key, Map.of("name", p.name())));
                auth.put("openid", Map.of("providers", providers));
            }
            auth.put("apikey", config.apiKeys());
        }
        Map<String, Object> http = new LinkedHashMap<>();
        if (!auth.isEmpty()) {
            http.put("auth", auth);
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("distSpecVersion", "1.1.1");
        body.put("commit", "");
        body.put("releaseTag", Berth.version());
        body.put("binaryType", "berth");
        body.put("http", http);
        ex.sendJson(200, body);
    }

    // --- helpers ---------------------------------------------------------------------------------------------

    private URI redirectUri(Exchange ex, String provider) {
        return origin(ex).resolve(CALLBACK + provider);
    }

    /** Where clients reach Berth: {@code http.externalUrl}, else what the request says. */
    URI origin(Exchange ex) {
        if (externalUrl != null) {
            String base = externalUrl.toString();
            return URI.create(base.endsWith("/") ? base : base + "/");
        }
        String scheme = ex.request().getHttpURI().getScheme();
        String host = Request.getServerName(ex.request());
        int port = Request.getServerPort(ex.request());
        boolean defaultPort = port <= 0 || ("http".equals(scheme) && port == 80) || ("https".equals(scheme) && port == 443);
        // Jetty gives an IPv6 host in brackets already ("[::1]"); a bare one gets them here.
        boolean bare = host.contains(":") && !host.startsWith("[");
        return URI.create(scheme + "://" + (bare ? "[" + host + "]" : host) + (defaultPort ? "" : ":" + port) + "/");
    }

    /**
     * Where to go after signing in: a path on this registry, or a URL on an origin the configuration trusts
     * ({@code callbackAllowOrigins} or {@code externalUrl}); anything else becomes {@code /}, so the login
     * cannot be used to send people elsewhere.
     */
    String returnTo(String requested) {
        if (requested == null || requested.isBlank()) {
            return null;
        }
        URI uri;
        try {
            // Parsing refuses what browsers would quietly rewrite (tabs, newlines, spaces, backslashes...).
            uri = new URI(requested);
        } catch (java.net.URISyntaxException e) {
            return "/";
        }
        // The raw text is what the browser will follow: "///host" parses as a path but leads to another site.
        if (uri.getScheme() == null && uri.getRawAuthority() == null && requested.startsWith("/")
                && !requested.startsWith("//") && !requested.startsWith("/\\")) {
            return requested;
        }
        if (uri.getScheme() == null || uri.getRawAuthority() == null
                || !(uri.getScheme().equals("https") || uri.getScheme().equals("http"))) {
            return "/";
        }
        String origin = uri.getScheme() + "://" + uri.getRawAuthority();
        List<String> allowed = new ArrayList<>(access.config().callbackAllowOrigins());
        if (externalUrl != null) {
            allowed.add(externalUrl.getScheme() + "://" + externalUrl.getRawAuthority());
        }
        for (String a : allowed) {
            if (a.replaceAll("/+$", "").equalsIgnoreCase(origin)) {
                return requested;
            }
        }
        return "/";
    }

    private static void onlyMethods(Exchange ex, String... methods) {
        for (String m : methods) {
            if (m.equals(ex.method())) {
                return;
            }
        }
        throw RegistryException.of(ErrorCode.UNSUPPORTED, 405, "method " + ex.method() + " not allowed here")
                .withHeader("Allow", String.join(", ", methods));
    }

    private static String printable(String s) {
        String cut = s.length() > 100 ? s.substring(0, 100) : s;
        return cut.replaceAll("[^\\x20-\\x7e]", "?");
    }
}
