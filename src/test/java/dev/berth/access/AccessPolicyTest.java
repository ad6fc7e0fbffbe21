package dev.berth.access;

import static org.assertj.core.api.Assertions.assertThat;

import dev.berth.config.AccessControlConfig;
import dev.berth.config.AccessControlConfig.Grant;
import dev.berth.config.AccessControlConfig.RepositoryPolicy;
import dev.berth.config.AuthConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class AccessPolicyTest {
    private static final AuthConfig HTPASSWD = new AuthConfig(Path.of("htpasswd"), null, true, Map.of(), List.of(),
            Duration.ZERO, null, null, null, AuthConfig.DEFAULT_SESSION_TTL);
    private static final Set<String> ALL = Set.of("read", "create", "update", "delete");

    private static Identity user(String name, String... groups) {
        return Identity.of(name, Set.of(groups), Identity.Account.HTPASSWD);
    }

    /** The seed deployment's policy, with a private area and an unmatched one added. */
    private static AccessPolicy seed() {
        Map<String, RepositoryPolicy> repositories = new LinkedHashMap<>();
        repositories.put("**", new RepositoryPolicy(List.of(
                new Grant(Set.of(), Set.of("artifact-workloads"), Set.of("read", "create")),
                new Grant(Set.of(), Set.of("admins"), ALL)), Set.of("read"), Set.of("read")));
        repositories.put("blumeops/**", new RepositoryPolicy(List.of(
                new Grant(Set.of("alice"), Set.of(), Set.of("read", "create", "update"))), Set.of(), Set.of()));
        return AccessPolicy.of(HTPASSWD, new AccessControlConfig(repositories,
                new Grant(Set.of(), Set.of("admins"), ALL), Map.of("artifact-workloads", Set.of("ci")), null));
    }

    @Test
    void anonymousMayReadWhatAnonymousPolicyAllows() {
        AccessPolicy p = seed();
        assertThat(p.allows(Identity.ANONYMOUS, "docker.io/library/alpine", Action.READ)).isTrue();
        assertThat(p.allows(Identity.ANONYMOUS, "docker.io/library/alpine", Action.CREATE)).isFalse();
        assertThat(p.allows(Identity.ANONYMOUS, "blumeops/app", Action.READ)).as("longest match decides").isFalse();
    }

    @Test
    void ciMayCreateButNeitherUpdateNorDelete() {
        AccessPolicy p = seed();
        Identity ci = user("ci", "artifact-workloads");
        assertThat(p.allows(ci, "team/app", Action.CREATE)).isTrue();
        assertThat(p.allows(ci, "team/app", Action.UPDATE)).isFalse();
        assertThat(p.allows(ci, "team/app", Action.DELETE)).isFalse();
        assertThat(p.allows(ci, "blumeops/app", Action.READ)).as("no merging with shorter globs").isFalse();
    }

    @Test
    void theLongestMatchingGlobAloneDecides() {
        AccessPolicy p = seed();
        assertThat(p.allows(user("alice"), "blumeops/app", Action.UPDATE)).isTrue();
        assertThat(p.allows(user("bob"), "blumeops/app", Action.READ)).as("defaultPolicy of ** does not apply").isFalse();
        assertThat(p.allows(user("bob"), "other", Action.READ)).isTrue();
    }

    @Test
    void adminsMayDoEverythingEverywhere() {
        AccessPolicy p = seed();
        Identity admin = user("root", "admins");
        for (Action a : Action.values()) {
            assertThat(p.allows(admin, "blumeops/app", a)).isTrue();
        }
        assertThat(p.isAdmin(admin)).isTrue();
        assertThat(p.isAdmin(user("alice"))).isFalse();
    }

    @Test
    void unmatchedRepositoriesAreClosed() {
        Map<String, RepositoryPolicy> repositories = Map.of("public/**",
                new RepositoryPolicy(List.of(), Set.of("read"), Set.of("read")));
        AccessPolicy p = AccessPolicy.of(HTPASSWD, new AccessControlConfig(repositories, Grant.NONE, Map.of(), null));
        assertThat(p.allows(user("bob"), "private/x", Action.READ)).isFalse();
        assertThat(p.allows(Identity.ANONYMOUS, "private/x", Action.READ)).isFalse();
    }

    @Test
    void keyScopesNarrowWhatTheOwnerMay() {
        AccessPolicy p = seed();
        Identity scoped = new Identity("root", Set.of("admins"), Identity.Source.API_KEY, Identity.Account.HTPASSWD,
                List.of("ci/**"));
        assertThat(p.allows(scoped, "ci/app", Action.DELETE)).isTrue();
        assertThat(p.allows(scoped, "prod/app", Action.READ)).isFalse();
    }

    @Test
    void withoutAccessControlSignedInUsersMayDoEverything() {
        AccessPolicy p = AccessPolicy.of(HTPASSWD, null);
        assertThat(p.allows(user("x"), "any", Action.DELETE)).isTrue();
        assertThat(p.allows(Identity.ANONYMOUS, "any", Action.READ)).isFalse();
        AccessPolicy open = AccessPolicy.of(null, null);
        assertThat(open.allows(Identity.ANONYMOUS, "any", Action.DELETE)).isTrue();
    }

    @Test
    void configuredGroupsAndMixedPolicies() {
        AccessPolicy p = seed();
        assertThat(p.configuredGroups("ci")).containsExactly("artifact-workloads");
        assertThat(p.mixed()).isTrue();
        assertThat(p.anonymousReadable()).isTrue();
    }

    @Test
    void metricsAsZotProtectsThem() {
        Map<String, RepositoryPolicy> repositories = Map.of("**", new RepositoryPolicy(List.of(), Set.of("read"), Set.of()));
        AccessPolicy none = AccessPolicy.of(HTPASSWD, new AccessControlConfig(repositories, Grant.NONE, Map.of(), null));
        assertThat(none.metricsAccess(user("prometheus"))).isEqualTo(AccessPolicy.MetricsAccess.FORBIDDEN);
        AccessPolicy listed = AccessPolicy.of(HTPASSWD, new AccessControlConfig(repositories, Grant.NONE, Map.of(),
                new AccessControlConfig.MetricsPolicy(Set.of("prometheus"), Set.of())));
        assertThat(listed.metricsAccess(user("prometheus"))).isEqualTo(AccessPolicy.MetricsAccess.ALLOWED);
        assertThat(listed.metricsAccess(user("bob"))).isEqualTo(AccessPolicy.MetricsAccess.FORBIDDEN);
        assertThat(listed.metricsAccess(Identity.ANONYMOUS)).isEqualTo(AccessPolicy.MetricsAccess.UNAUTHENTICATED);
    }
}
