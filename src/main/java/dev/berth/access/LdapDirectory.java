package dev.berth.access;

import com.unboundid.ldap.sdk.Filter;
import com.unboundid.ldap.sdk.LDAPConnection;
import com.unboundid.ldap.sdk.LDAPConnectionOptions;
import com.unboundid.ldap.sdk.LDAPException;
import com.unboundid.ldap.sdk.ResultCode;
import com.unboundid.ldap.sdk.SearchResult;
import com.unboundid.ldap.sdk.SearchResultEntry;
import com.unboundid.ldap.sdk.SearchScope;
import com.unboundid.ldap.sdk.extensions.StartTLSExtendedRequest;
import com.unboundid.util.ssl.SSLUtil;
import com.unboundid.util.ssl.TrustAllTrustManager;
import dev.berth.config.AuthConfig;
import dev.berth.config.TlsKeys;
import java.util.LinkedHashSet;
import java.util.Optional;
import java.util.Set;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Signs users in against an LDAP directory as zot does: bind as the service account (or anonymously), find the
 * user by {@code userAttribute} under {@code baseDN}, bind as the user with their password, and take the values of
 * {@code userGroupAttribute} as their groups.
 */
final class LdapDirectory {
    private static final Logger LOG = LoggerFactory.getLogger(LdapDirectory.class);

    private final AuthConfig.Ldap config;
    private final SSLContext tls;

    LdapDirectory(AuthConfig.Ldap config) throws Exception {
        this.config = config;
        this.tls = config.insecure() ? null : sslContext(config);
    }

    /** The user's groups if the password is right; empty if not; an exception if the directory cannot be asked. */
    Optional<Set<String>> authenticate(String user, String password) throws LDAPException {
        if (password.isEmpty()) {
            return Optional.empty(); // an empty password would be an anonymous bind, which always "succeeds"
        }
        try (LDAPConnection connection = connect()) {
            if (config.bindDn() != null) {
                connection.bind(config.bindDn(), config.bindPassword());
            }
            Optional<SearchResultEntry> found = find(connection, user);
            if (found.isEmpty()) {
                return Optional.empty();
            }
            SearchResultEntry entry = found.get();
            try {
                connection.bind(entry.getDN(), password);
            } catch (LDAPException e) {
                if (e.getResultCode() == ResultCode.INVALID_CREDENTIALS) {
                    return Optional.empty();
                }
                throw e;
            }
            return Optional.of(groups(entry));
        }
    }

    /**
     * The user's groups if the directory still has them (searched as the service account); empty if not. API keys
     * ask this, as they carry no password to bind with.
     */
    Optional<Set<String>> lookup(String user) throws LDAPException {
        try (LDAPConnection connection = connect()) {
            if (config.bindDn() != null) {
                connection.bind(config.bindDn(), config.bindPassword());
            }
            Optional<SearchResultEntry> entry = find(connection, user);
            return entry.map(this::groups);
        }
    }

    private Optional<SearchResultEntry> find(LDAPConnection connection, String user) throws LDAPException {
        Filter byName = Filter.createEqualityFilter(config.userAttribute(), user);
        Filter filter = byName;
        if (config.userFilter() != null && !config.userFilter().isBlank()) {
            String extra = config.userFilter().strip();
            filter = Filter.createANDFilter(byName, Filter.create(extra.startsWith("(") ? extra : "(" + extra + ")"));
        }
        String[] attributes = config.userGroupAttribute() == null ? new String[] {"1.1"}
                : new String[] {config.userGroupAttribute()};
        SearchResult found = connection.search(config.baseDn(),
                config.subtreeSearch() ? SearchScope.SUB : SearchScope.ONE, filter, attributes);
        if (found.getEntryCount() != 1) {
            if (found.getEntryCount() > 1) {
                LOG.warn("LDAP: {} entries match user {}; refusing an ambiguous sign-in", found.getEntryCount(), user);
            }
            return Optional.empty();
        }
        return Optional.of(found.getSearchEntries().get(0));
    }

    private Set<String> groups(SearchResultEntry entry) {
        Set<String> groups = new LinkedHashSet<>();
        if (config.userGroupAttribute() != null) {
            String[] values = entry.getAttributeValues(config.userGroupAttribute());
            if (values != null) {
                groups.addAll(java.util.List.of(values));
            }
        }
        return groups;
    }

    private LDAPConnection connect() throws LDAPException {
        LDAPConnectionOptions options = new LDAPConnectionOptions();
        options.setConnectTimeoutMillis(5_000);
        options.setResponseTimeoutMillis(10_000);
        if (tls != null && !config.startTls()) {
            return new LDAPConnection(tls.getSocketFactory(), options, config.address(), config.port());
        }
        LDAPConnection connection = new LDAPConnection(options, config.address(), config.port());
        if (tls != null) {
            try {
                connection.processExtendedOperation(new StartTLSExtendedRequest(tls));
            } catch (LDAPException e) {
                connection.close();
                throw e;
            }
        }
        return connection;
    }

    private static SSLContext sslContext(AuthConfig.Ldap config) throws Exception {
        TrustManager trust;
        if (config.skipVerify()) {
            trust = new TrustAllTrustManager();
        } else if (config.caCert() != null) {
            TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            factory.init(TlsKeys.trustStore(config.caCert()));
            trust = factory.getTrustManagers()[0];
        } else {
            return SSLContext.getDefault();
        }
        return new SSLUtil(trust).createSSLContext();
    }
}
