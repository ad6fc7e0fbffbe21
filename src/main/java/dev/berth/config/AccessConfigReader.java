package dev.berth.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/** Reads {@code http.auth} and {@code http.accessControl}, as zot writes them, plus Berth's own few keys. */
final class AccessConfigReader {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** zot accepts these provider keys; the key sets the provider's type. */
    private static final Set<String> OIDC_PROVIDER_KEYS = Set.of("oidc", "google", "gitlab");
    private static final Set<String> MTLS_ATTRIBUTES = Set.of("commonname", "subject", "email", "uri", "dnsname");

    private AccessConfigReader() {
    }

    static AuthConfig readAuth(ConfigSection s) {
        if (s == null) {
            return null;
        }
        Path htpasswd = null;
        ConfigSection h = s.section("htpasswd");
        if (h != null) {
            String path = h.string("path");
            if (path == null || path.isBlank()) {
                h.error("path", "required");
            } else if (!Files.isReadable(Path.of(path))) {
                h.error("path", path + " is not a readable file");
            } else {
                htpasswd = Path.of(path);
            }
            h.finish();
        }
        AuthConfig.Ldap ldap = readLdap(s.section("ldap"));
        Boolean apikey = s.bool("apikey");
        Map<String, AuthConfig.OidcProvider> providers = new LinkedHashMap<>();
        List<String> allowOrigins = List.of();
        ConfigSection openid = s.section("openid");
        if (openid != null) {
            allowOrigins = openid.stringList("callbackAllowOrigins");
            ConfigSection list = openid.section("providers");
            if (list != null) {
                for (String key : list.keys()) {
                    ConfigSection provider = list.section(key);
                    if (provider == null) {
                        continue;
                    }
                    String type = key.toLowerCase(Locale.ROOT);
                    if (type.equals("github")) {
                        list.notYet(key, "GitHub's OAuth2 login is not supported yet; use an OIDC provider", false);
                    } else if (!OIDC_PROVIDER_KEYS.contains(type)) {
                        list.error(key, "unknown provider; the key sets the type: oidc, google or gitlab"
                                + " (put any OpenID Connect provider under \"oidc\")");
                    } else {
                        AuthConfig.OidcProvider p = readOidc(type, provider);
                        if (p != null) {
                            providers.put(type, p);
                        }
                    }
                }
            }
            openid.finish();
        }
        Duration failDelay = s.secondsOrDuration("failDelay", Duration.ZERO);
        Boolean secureSession = s.bool("secureSession");
        s.notYet("sessionKeysFile", "Berth keeps sessions in its database, so they survive restarts without"
                + " session keys; ignored", false);
        s.notYet("sessionDriver", "Berth keeps sessions in its database; ignored", false);
        s.notYet("bearer", "bearer-token authentication is not supported yet; clients that present tokens are"
                + " refused", false);
        AuthConfig.Mtls mtls = readMtls(s.section("mtls"));
        Duration maxLifetime = s.duration("apikeyMaxLifetime", null);
        if (maxLifetime != null && (maxLifetime.isNegative() || maxLifetime.isZero())) {
            s.error("apikeyMaxLifetime", "must be positive");
        }
        Duration sessionTtl = s.duration("sessionTTL", AuthConfig.DEFAULT_SESSION_TTL);
        if (sessionTtl.isNegative() || sessionTtl.isZero()) {
            s.error("sessionTTL", "must be positive");
        }
        s.finish();
        // zot switches API keys on whenever OpenID is configured: browser users need them for the command line.
        boolean apiKeys = Boolean.TRUE.equals(apikey) || !providers.isEmpty();
        AuthConfig auth = new AuthConfig(htpasswd, ldap, apiKeys, providers, allowOrigins, failDelay, secureSession,
                mtls, maxLifetime, sessionTtl);
        if (apiKeys && !auth.anyAuthenticator()) {
            s.error("apikey", "API keys belong to users who sign in some other way: configure htpasswd, ldap,"
                    + " openid or mtls as well");
        }
        return auth;
    }

    private static AuthConfig.Ldap readLdap(ConfigSection s) {
        if (s == null) {
            return null;
        }
        String address = required(s, "address");
        boolean insecure = Boolean.TRUE.equals(s.bool("insecure"));
        boolean startTls = Boolean.TRUE.equals(s.bool("startTLS"));
        Integer port = s.has("port") ? s.port("port", 0) : null;
        String baseDn = required(s, "baseDN");
        String userAttribute = required(s, "userAttribute");
        String groupAttribute = s.string("userGroupAttribute");
        String userFilter = s.string("userFilter");
        boolean skipVerify = Boolean.TRUE.equals(s.bool("skipVerify"));
        boolean subtree = !Boolean.FALSE.equals(s.bool("subtreeSearch"));
        String bindDn = null;
        String bindPassword = null;
        String credentials = s.string("credentialsFile");
        if (credentials != null && !credentials.isBlank()) {
            JsonNode file = readJsonFile(s, "credentialsFile", credentials);
            if (file != null) {
                bindDn = text(file, "bindDN");
                bindPassword = text(file, "bindPassword");
                if (bindDn == null || bindPassword == null) {
                    s.error("credentialsFile", credentials + " must hold {\"bindDN\": …, \"bindPassword\": …}");
                }
            }
        }
        Path caCert = readableFile(s, "cacert");
        s.finish();
        int effectivePort = port != null ? port : (insecure || startTls ? 389 : 636);
        return new AuthConfig.Ldap(address, effectivePort, startTls, insecure, skipVerify, subtree, baseDn, userAttribute,
                groupAttribute, userFilter, bindDn, bindPassword, caCert);
    }

    private static AuthConfig.OidcProvider readOidc(String key, ConfigSection s) {
        String name = s.string("name");
        String issuer = required(s, "issuer");
        String clientId = s.string("clientid");
        String clientSecret = s.string("clientsecret");
        String credentials = s.string("credentialsFile");
        if (credentials != null && !credentials.isBlank()) {
            JsonNode file = readJsonFile(s, "credentialsFile", credentials);
            if (file != null) {
                clientId = text(file, "clientid") != null ? text(file, "clientid") : clientId;
                clientSecret = text(file, "clientsecret") != null ? text(file, "clientsecret") : clientSecret;
            }
        }
        if (clientId == null || clientId.isBlank()) {
            s.error("clientid", "required (inline or in credentialsFile)");
        }
        List<String> scopes = new ArrayList<>(s.stringList("scopes"));
        if (!scopes.contains("openid")) {
            scopes.add(0, "openid");
        }
        String usernameClaim = "email";
        String groupsClaim = "groups";
        ConfigSection claims = s.section("claimMapping");
        if (claims != null) {
            String u = claims.string("username");
            String g = claims.string("groups");
            usernameClaim = u == null || u.isBlank() ? usernameClaim : u;
            groupsClaim = g == null || g.isBlank() ? groupsClaim : g;
            claims.finish();
        }
        s.notYet("keypath", "JWT client assertions are not supported yet; use a client secret", false);
        s.finish();
        if (issuer == null || clientId == null) {
            return null;
        }
        URI issuerUri;
        try {
            issuerUri = new URI(issuer);
            if (issuerUri.getHost() == null || !(issuerUri.getScheme().equals("https") || issuerUri.getScheme().equals("http"))) {
                s.error("issuer", "must be an absolute https URL");
                return null;
            }
        } catch (URISyntaxException e) {
            s.error("issuer", "not a valid URL: " + e.getReason());
            return null;
        }
        return new AuthConfig.OidcProvider(key, name == null || name.isBlank() ? key : name, issuerUri, clientId,
                clientSecret == null || clientSecret.isBlank() ? null : clientSecret, scopes, usernameClaim, groupsClaim);
    }

    private static AuthConfig.Mtls readMtls(ConfigSection s) {
        if (s == null) {
            return null;
        }
        List<String> attributes = s.stringList("identityAttributes");
        for (String a : attributes) {
            if (!MTLS_ATTRIBUTES.contains(a.toLowerCase(Locale.ROOT))) {
                s.error("identityAttributes", "unknown attribute " + a + "; use CommonName, Subject, Email, URI or DNSName");
            }
        }
        String pattern = s.string("uriSanPattern");
        if (pattern != null) {
            try {
                java.util.regex.Pattern.compile(pattern);
            } catch (java.util.regex.PatternSyntaxException e) {
                s.error("uriSanPattern", "not a valid regular expression: " + e.getDescription());
            }
        }
        s.any("uriSanIndex");
        s.any("dnsSanIndex");
        s.any("emailSanIndex");
        s.finish();
        return new AuthConfig.Mtls(attributes.isEmpty() ? List.of("CommonName") : attributes, pattern);
    }

    static AccessControlConfig readAccessControl(ConfigSection s, AuthConfig auth) {
        if (s == null) {
            return null;
        }
        Map<String, AccessControlConfig.RepositoryPolicy> repositories = new LinkedHashMap<>();
        ConfigSection repos = s.section("repositories");
        if (repos != null) {
            for (String glob : repos.keys()) {
                ConfigSection r = repos.section(glob);
                if (r == null) {
                    continue;
                }
                if (glob.isBlank()) {
                    repos.error(glob, "an empty repository pattern matches nothing");
                }
                List<AccessControlConfig.Grant> grants = new ArrayList<>();
                for (ConfigSection p : r.objectList("policies")) {
                    grants.add(grant(p));
                }
                repositories.put(glob, new AccessControlConfig.RepositoryPolicy(grants, actions(r, "defaultPolicy"),
                        actions(r, "anonymousPolicy")));
                r.notYet("conditions", "CEL conditions are not supported", true);
                r.finish();
            }
        }
        ConfigSection admin = s.section("adminPolicy");
        AccessControlConfig.Grant adminPolicy = admin == null ? AccessControlConfig.Grant.NONE : grant(admin);
        Map<String, Set<String>> groups = new LinkedHashMap<>();
        ConfigSection g = s.section("groups");
        if (g != null) {
            for (String name : g.keys()) {
                ConfigSection group = g.section(name);
                if (group != null) {
                    groups.put(name, new LinkedHashSet<>(group.stringList("users")));
                    group.finish();
                }
            }
        }
        AccessControlConfig.MetricsPolicy metrics = null;
        ConfigSection m = s.section("metrics");
        if (m != null) {
            metrics = new AccessControlConfig.MetricsPolicy(new LinkedHashSet<>(m.stringList("users")),
                    actions(m, "anonymousPolicy"));
            m.finish();
        }
        s.finish();
        AccessControlConfig config = new AccessControlConfig(repositories, adminPolicy, groups, metrics);
        if ((auth == null || !auth.anyAuthenticator()) && grantsToUsers(config)) {
            s.error("repositories", "grants access to users or groups, but http.auth configures no way to sign in;"
                    + " without authentication only anonymousPolicy can apply");
        }
        return config;
    }

    private static boolean grantsToUsers(AccessControlConfig c) {
        boolean repos = c.repositories().values().stream()
                .anyMatch(r -> !r.policies().isEmpty() || !r.defaultPolicy().isEmpty());
        boolean admin = !c.adminPolicy().actions().isEmpty();
        return repos || admin;
    }

    private static AccessControlConfig.Grant grant(ConfigSection p) {
        Set<String> users = new LinkedHashSet<>(p.stringList("users"));
        Set<String> groups = new LinkedHashSet<>(p.stringList("groups"));
        Set<String> actions = actions(p, "actions");
        p.notYet("conditions", "CEL conditions are not supported", true);
        p.finish();
        return new AccessControlConfig.Grant(users, groups, actions);
    }

    private static Set<String> actions(ConfigSection s, String key) {
        Set<String> result = new LinkedHashSet<>();
        for (String action : s.stringList(key)) {
            String normal = action.toLowerCase(Locale.ROOT);
            if (!AccessControlConfig.ACTIONS.contains(normal)) {
                s.error(key, "unknown action \"" + action + "\"; actions are read, create, update and delete");
            } else {
                result.add(normal);
            }
        }
        return result;
    }

    private static String required(ConfigSection s, String key) {
        String value = s.string(key);
        if (value == null || value.isBlank()) {
            s.error(key, "required");
            return null;
        }
        return value;
    }

    private static Path readableFile(ConfigSection s, String key) {
        String value = s.string(key);
        if (value == null || value.isBlank()) {
            return null;
        }
        Path path = Path.of(value);
        if (!Files.isReadable(path)) {
            s.error(key, value + " is not a readable file");
            return null;
        }
        return path;
    }

    private static JsonNode readJsonFile(ConfigSection s, String key, String file) {
        try {
            JsonNode node = JSON.readTree(Path.of(file).toFile());
            if (node == null || !node.isObject()) {
                s.error(key, file + " must hold a JSON object");
                return null;
            }
            return node;
        } catch (IOException e) {
            // The message of a JSON error could quote the file's secrets: say only where it broke.
            s.error(key, file + " cannot be read as JSON" + (e instanceof com.fasterxml.jackson.core.JsonProcessingException j
                    && j.getLocation() != null ? " (line " + j.getLocation().getLineNr() + ")" : ""));
            return null;
        }
    }

    private static String text(JsonNode node, String field) {
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            if (e.getKey().equalsIgnoreCase(field) && e.getValue().isTextual()) {
                return e.getValue().textValue();
            }
        }
        return null;
    }

    /** Reads a PEM CA certificate file, so that verify reports a bad one. */
    static void checkCertificates(ConfigSection s, String key, Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            if (CertificateFactory.getInstance("X.509").generateCertificates(in).isEmpty()) {
                s.error(key, file + " holds no PEM certificate");
            }
        } catch (IOException | GeneralSecurityException e) {
            s.error(key, file + ": " + e.getMessage());
        }
    }
}
