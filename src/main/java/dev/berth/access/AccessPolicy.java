package dev.berth.access;

import dev.berth.config.AccessControlConfig;
import dev.berth.config.AuthConfig;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Who may do what to which repository, with zot's semantics:
 * <ul>
 * <li>no authentication and no access control configured: everyone may do everything;</li>
 * <li>authentication but no access control: signed-in users may do everything, anonymous callers nothing;</li>
 * <li>with access control: the longest repository glob that matches decides (no merging with shorter ones);
 *     within it a user entry, a group entry, {@code defaultPolicy} (signed-in users) or
 *     {@code anonymousPolicy} (anonymous callers only) grants an action; {@code adminPolicy} grants its actions
 *     everywhere; a repository no glob matches is closed to everyone but admins.</li>
 * </ul>
 * An API key with scopes is further limited to repositories its scopes match.
 */
public final class AccessPolicy {
    private final boolean authentication;
    private final List<Entry> entries;
    private final Grant admin;
    private final Map<String, Set<String>> groupsByUser;
    private final AccessControlConfig.MetricsPolicy metrics;
    private final boolean accessControl;
    /** API-key scopes seen so far, compiled once. */
    private final Map<String, Glob> scopes = new ConcurrentHashMap<>();

    private record Grant(Set<String> users, Set<String> groups, Set<Action> actions) {
        boolean grants(Identity who, Action action) {
            if (who.isAnonymous() || !actions.contains(action)) {
                return false;
            }
            if (users.contains(who.name())) {
                return true;
            }
            for (String group : who.groups()) {
                if (groups.contains(group)) {
                    return true;
                }
            }
            return false;
        }
    }

    private record Entry(Glob glob, List<Grant> grants, Set<Action> signedIn, Set<Action> anonymous) {
    }

    private AccessPolicy(boolean authentication, boolean accessControl, List<Entry> entries, Grant admin,
                         Map<String, Set<String>> groupsByUser, AccessControlConfig.MetricsPolicy metrics) {
        this.authentication = authentication;
        this.accessControl = accessControl;
        this.entries = entries;
        this.admin = admin;
        this.groupsByUser = groupsByUser;
        this.metrics = metrics;
    }

    public static AccessPolicy of(AuthConfig auth, AccessControlConfig config) {
        boolean authentication = auth != null && auth.anyAuthenticator();
        if (config == null) {
            return new AccessPolicy(authentication, false, List.of(), new Grant(Set.of(), Set.of(), Set.of()), Map.of(), null);
        }
        List<Entry> entries = new ArrayList<>();
        config.repositories().forEach((glob, policy) -> entries.add(new Entry(new Glob(glob),
                policy.policies().stream().map(AccessPolicy::grant).toList(),
                actions(policy.defaultPolicy()), actions(policy.anonymousPolicy()))));
        // Longest pattern first: the first match is the one that decides.
        entries.sort(Comparator.comparingInt((Entry e) -> e.glob().text().length()).reversed());
        Map<String, Set<String>> groupsByUser = new HashMap<>();
        config.groups().forEach((group, users) -> users.forEach(
                user -> groupsByUser.computeIfAbsent(user, u -> new HashSet<>()).add(group)));
        return new AccessPolicy(authentication, true, List.copyOf(entries), grant(config.adminPolicy()),
                Map.copyOf(groupsByUser), config.metrics());
    }

    private Glob scope(String text) {
        return scopes.computeIfAbsent(text, Glob::new);
    }

    private static Grant grant(AccessControlConfig.Grant g) {
        return new Grant(g.users(), g.groups(), actions(g.actions()));
    }

    private static Set<Action> actions(Set<String> names) {
        Set<Action> result = EnumSet.noneOf(Action.class);
        names.forEach(n -> result.add(Action.named(n)));
        return result;
    }

    /** Whether {@code repository} is within the scopes of the API key {@code who} called with, if it has any. */
    public boolean inScope(Identity who, String repository) {
        return who.scopes().isEmpty() || who.scopes().stream().anyMatch(s -> scope(s).matches(repository));
    }

    /** Whether {@code who} may perform {@code action} on {@code repository}. */
    public boolean allows(Identity who, String repository, Action action) {
        if (!inScope(who, repository)) {
            return false;
        }
        if (!accessControl) {
            return !authentication || !who.isAnonymous();
        }
        if (admin.grants(who, action)) {
            return true;
        }
        for (Entry entry : entries) {
            if (entry.glob().matches(repository)) {
                if (who.isAnonymous()) {
                    return entry.anonymous().contains(action);
                }
                if (entry.signedIn().contains(action)) {
                    return true;
                }
                return entry.grants().stream().anyMatch(g -> g.grants(who, action));
            }
        }
        return false;
    }

    /** Whether {@code who} is an administrator (sees the whole catalog, may manage other users' keys). */
    public boolean isAdmin(Identity who) {
        if (!accessControl) {
            return !authentication || !who.isAnonymous();
        }
        return admin.grants(who, Action.READ) || admin.grants(who, Action.DELETE);
    }

    /** Groups that {@code accessControl.groups} puts a user in. */
    public Set<String> configuredGroups(String user) {
        return groupsByUser.getOrDefault(user, Set.of());
    }

    /** Whether anonymous callers may read anything at all. */
    public boolean anonymousReadable() {
        if (!accessControl) {
            return !authentication;
        }
        return entries.stream().anyMatch(e -> e.anonymous().contains(Action.READ));
    }

    /**
     * Whether anonymous and signed-in callers are treated differently somewhere, which is when Docker must be made
     * to send its stored credentials (it only does so after a 401 on {@code /v2/}).
     */
    public boolean mixed() {
        if (!accessControl) {
            return false;
        }
        boolean anonymous = entries.stream().anyMatch(e -> !e.anonymous().isEmpty());
        boolean signedIn = !admin.actions().isEmpty()
                || entries.stream().anyMatch(e -> !e.grants().isEmpty() || !e.signedIn().isEmpty());
        return anonymous && signedIn;
    }

    /** Metrics are protected as zot protects them; a missing metrics block in access control means nobody. */
    public MetricsAccess metricsAccess(Identity who) {
        if (!accessControl) {
            return !authentication || !who.isAnonymous() ? MetricsAccess.ALLOWED : MetricsAccess.UNAUTHENTICATED;
        }
        if (metrics == null) {
            return who.isAnonymous() ? MetricsAccess.UNAUTHENTICATED : MetricsAccess.FORBIDDEN;
        }
        if (who.isAnonymous()) {
            return metrics.anonymousPolicy().contains("read") ? MetricsAccess.ALLOWED : MetricsAccess.UNAUTHENTICATED;
        }
        return metrics.users().contains(who.name()) ? MetricsAccess.ALLOWED : MetricsAccess.FORBIDDEN;
    }

    public enum MetricsAccess { ALLOWED, UNAUTHENTICATED, FORBIDDEN }

    /** Whether any sign-in is configured at all. */
    public boolean authenticationConfigured() {
        return authentication;
    }
}
