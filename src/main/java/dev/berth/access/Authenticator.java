package dev.berth.access;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.berth.config.AuthConfig;
import dev.berth.meta.AccessStore;
import dev.berth.oci.ErrorCode;
import dev.berth.oci.RegistryException;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Works out who is calling, in zot's order: the Authorization header (htpasswd, then LDAP, then an API key as
 * the password), then a browser session, then a client certificate; otherwise anonymous. Credentials that are
 * offered but wrong are an error even where anonymous callers would be let in: a typo must not silently
 * downgrade a push to an anonymous request.
 *
 * <p>Verdicts on passwords are cached for a few minutes under an HMAC of the credentials (never the password
 * itself): bcrypt is slow on purpose, and Docker sends the password with every request.
 */
public final class Authenticator {
    private static final Logger LOG = LoggerFactory.getLogger(Authenticator.class);
    private static final Duration VERDICT_TTL = Duration.ofMinutes(5);

    private final AuthConfig config;
    private final AccessPolicy policy;
    private final Htpasswd htpasswd;
    private final LdapDirectory ldap;
    private final ApiKeys apiKeys;
    private final Sessions sessions;
    private final AccessStore store;
    private final Clock clock;
    private final Cache<String, Identity> verdicts = Caffeine.newBuilder()
            .expireAfterWrite(VERDICT_TTL).maximumSize(10_000).build();
    /** What the directory said of an API key's owner (present, with groups; or gone), for a short while. */
    private final Cache<String, Optional<Set<String>>> directory = Caffeine.newBuilder()
            .expireAfterWrite(Duration.ofMinutes(1)).maximumSize(10_000).build();
    private final SecretKeySpec verdictKey = new SecretKeySpec(Tokens.random(32).getBytes(StandardCharsets.US_ASCII), "HmacSHA256");

    public Authenticator(AuthConfig config, AccessPolicy policy, ApiKeys apiKeys, Sessions sessions, AccessStore store,
                         Clock clock) throws Exception {
        this.config = config;
        this.policy = policy;
        this.htpasswd = config != null && config.htpasswd() != null ? new Htpasswd(config.htpasswd()) : null;
        this.ldap = config != null && config.ldap() != null ? new LdapDirectory(config.ldap()) : null;
        this.apiKeys = apiKeys;
        this.sessions = sessions;
        this.store = store;
        this.clock = clock;
    }

    /** Who is calling; {@code UNAUTHORIZED} when credentials are offered and wrong. */
    public Identity identify(Credentials credentials) {
        if (config == null || !config.anyAuthenticator()) {
            return Identity.ANONYMOUS; // nobody can sign in, so nobody is anybody
        }
        if (credentials.authorization().size() > 1) {
            throw unauthorized("more than one Authorization header");
        }
        if (credentials.authorization().size() == 1) {
            Identity identity = fromAuthorization(credentials.authorization().get(0));
            if (identity != null) {
                return identity;
            }
        }
        if (credentials.sessionAllowed() && credentials.sessionToken() != null) {
            Optional<AccessStore.Session> session = sessions.find(credentials.sessionToken());
            if (session.isPresent()) {
                AccessStore.Session s = session.get();
                Identity.Account account = Identity.Account.valueOf(s.account());
                // The account as it is now: a user removed from htpasswd or the directory is signed out at once, so
                // is one whose password changed (or who was removed and added again), and group changes count from
                // the next request, as for API keys.
                Optional<Set<String>> groups = ownerGroups(s.username(), account);
                boolean renewed = account == Identity.Account.HTPASSWD && htpasswd != null
                        && htpasswd.changedSince(s.username(), s.createdAt());
                if (groups.isEmpty() || renewed) {
                    sessions.close(credentials.sessionToken());
                    return Identity.ANONYMOUS;
                }
                return new Identity(s.username(), groups.get(), Identity.Source.SESSION, account, List.of());
            }
        }
        if (config.mtls() != null && credentials.clientCertificates() != null && credentials.clientCertificates().length > 0) {
            String name = certificateIdentity(credentials.clientCertificates()[0]);
            if (name != null) {
                return Identity.of(name, policy.configuredGroups(name), Identity.Account.MTLS);
            }
        }
        return Identity.ANONYMOUS;
    }

    /** The identity an Authorization header proves, null if it proves nothing (empty Basic credentials). */
    private Identity fromAuthorization(String header) {
        String value = header.strip();
        int space = value.indexOf(' ');
        String scheme = space < 0 ? value : value.substring(0, space);
        if (!scheme.equalsIgnoreCase("Basic")) {
            throw unauthorized("only Basic authentication is supported");
        }
        String decoded;
        try {
            decoded = new String(Base64.getDecoder().decode(value.substring(space + 1).strip()), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw unauthorized("malformed Basic credentials");
        }
        int colon = decoded.indexOf(':');
        if (colon < 0) {
            throw unauthorized("malformed Basic credentials");
        }
        String user = decoded.substring(0, colon);
        String password = decoded.substring(colon + 1);
        if (user.isEmpty() && password.isEmpty()) {
            return null;
        }
        if (config.apiKeys() && password.startsWith(ApiKeys.PREFIX)) {
            AccessStore.ApiKey key = apiKeys.verify(user, password)
                    .orElseThrow(() -> unauthorized("invalid or expired API key"));
            Identity.Account account = Identity.Account.valueOf(key.ownerAccount());
            Set<String> groups = ownerGroups(user, account)
                    .orElseThrow(() -> unauthorized("the owner of this API key no longer exists"));
            return new Identity(user, groups, Identity.Source.API_KEY, account, key.scopes());
        }
        return password(user, password);
    }

    /**
     * Who signs in on the login page: a password account (htpasswd or the directory), never an API key, which
     * is for clients and cannot open a browser session. {@code UNAUTHORIZED} when the password is wrong.
     */
    public Identity signIn(String user, String password) {
        if (config == null || (config.htpasswd() == null && config.ldap() == null)) {
            throw unauthorized("this registry has no password sign-in");
        }
        if (user.isEmpty() || password.isEmpty() || password.startsWith(ApiKeys.PREFIX)) {
            throw unauthorized("invalid username or password");
        }
        return password(user, password);
    }

    /** The account a username and password prove (cached briefly, bcrypt being slow on purpose). */
    private Identity password(String user, String password) {
        String cacheKey = verdictKey(user, password);
        Identity cached = verdicts.getIfPresent(cacheKey);
        if (cached != null) {
            return cached;
        }
        Identity identity = null;
        if (htpasswd != null && htpasswd.verify(user, password)) {
            identity = Identity.of(user, policy.configuredGroups(user), Identity.Account.HTPASSWD);
        } else if (ldap != null) {
            try {
                Optional<Set<String>> groups = ldap.authenticate(user, password);
                if (groups.isPresent()) {
                    Set<String> all = new LinkedHashSet<>(groups.get());
                    all.addAll(policy.configuredGroups(user));
                    identity = Identity.of(user, all, Identity.Account.LDAP);
                }
            } catch (Exception e) {
                LOG.warn("LDAP sign-in of {} failed: {}", user, e.getMessage());
                throw RegistryException.of(ErrorCode.UNAUTHORIZED, 401, "the directory cannot be reached; try again later");
            }
        }
        if (identity == null) {
            throw unauthorized("invalid username or password");
        }
        verdicts.put(cacheKey, identity);
        return identity;
    }

    /** Records a sign-in through an OpenID provider: the groups it gave hold until the next sign-in. */
    public void rememberProviderSignIn(String user, Set<String> groups) {
        store.saveUser(new AccessStore.User(user, Identity.Account.OIDC.name(), groups, clock.instant()));
    }

    /**
     * The groups an API key acts with, as its owner's account stands now, or empty when the owner is gone: a user
     * removed from the htpasswd file or the directory loses their keys with their password, and a user taken out
     * of a configured group loses its rights at once. OpenID accounts keep the groups of their last sign-in (the
     * provider cannot be asked without the user), as in zot.
     */
    Optional<Set<String>> ownerGroups(String owner, Identity.Account account) {
        Set<String> configured = policy.configuredGroups(owner);
        return switch (account) {
            case HTPASSWD -> htpasswd != null && htpasswd.has(owner) ? Optional.of(configured) : Optional.empty();
            case MTLS -> config.mtls() != null ? Optional.of(configured) : Optional.empty();
            case OIDC -> store.user(owner, Identity.Account.OIDC.name()).map(AccessStore.User::groups);
            case LDAP -> {
                if (ldap == null) {
                    yield Optional.empty();
                }
                Optional<Set<String>> found = directory.get(owner, name -> {
                    try {
                        return ldap.lookup(name);
                    } catch (Exception e) {
                        LOG.warn("LDAP lookup of API key owner {} failed: {}", name, e.getMessage());
                        throw RegistryException.of(ErrorCode.UNAUTHORIZED, 401, "the directory cannot be reached; try again later");
                    }
                });
                yield found.map(groups -> {
                    Set<String> all = new LinkedHashSet<>(groups);
                    all.addAll(configured);
                    return all;
                });
            }
        };
    }

    private String certificateIdentity(X509Certificate certificate) {
        for (String attribute : config.mtls().identityAttributes()) {
            String value = switch (attribute.toLowerCase(Locale.ROOT)) {
                case "commonname" -> commonName(certificate);
                case "subject" -> certificate.getSubjectX500Principal().getName();
                case "email" -> subjectAlternativeName(certificate, 1);
                case "dnsname" -> subjectAlternativeName(certificate, 2);
                case "uri" -> uriIdentity(subjectAlternativeName(certificate, 6));
                default -> null;
            };
            if (value != null && !value.isBlank()) {
                return value;
            }
        }
        return null;
    }

    private String uriIdentity(String uri) {
        if (uri == null || config.mtls().uriSanPattern() == null) {
            return uri;
        }
        Matcher m = Pattern.compile(config.mtls().uriSanPattern()).matcher(uri);
        return m.matches() && m.groupCount() >= 1 ? m.group(1) : null;
    }

    private static String commonName(X509Certificate certificate) {
        try {
            for (Rdn rdn : new LdapName(certificate.getSubjectX500Principal().getName()).getRdns()) {
                if (rdn.getType().equalsIgnoreCase("CN")) {
                    return rdn.getValue().toString();
                }
            }
        } catch (javax.naming.InvalidNameException e) {
            return null;
        }
        return null;
    }

    private static String subjectAlternativeName(X509Certificate certificate, int type) {
        try {
            var names = certificate.getSubjectAlternativeNames();
            if (names == null) {
                return null;
            }
            for (List<?> name : names) {
                if (name.size() >= 2 && name.get(0) instanceof Integer t && t == type && name.get(1) instanceof String s) {
                    return s;
                }
            }
        } catch (java.security.cert.CertificateParsingException e) {
            return null;
        }
        return null;
    }

    private String verdictKey(String user, String password) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(verdictKey);
            String generation = htpasswd == null ? "-" : Long.toString(htpasswd.generation());
            return HexFormat.of().formatHex(mac.doFinal((generation + "\0" + user + "\0" + password)
                    .getBytes(StandardCharsets.UTF_8)));
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static RegistryException unauthorized(String message) {
        return RegistryException.of(ErrorCode.UNAUTHORIZED, 401, message);
    }
}
