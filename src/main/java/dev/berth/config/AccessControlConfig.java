package dev.berth.config;

import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code http.accessControl} in zot's format. Actions are {@code read}, {@code create}, {@code update} and
 * {@code delete}; repository keys are globs ({@code *} within a path segment, {@code **} across).
 */
public record AccessControlConfig(Map<String, RepositoryPolicy> repositories, Grant adminPolicy,
                                  Map<String, Set<String>> groups, MetricsPolicy metrics) {
    public static final Set<String> ACTIONS = Set.of("read", "create", "update", "delete");

    public AccessControlConfig {
        repositories = Map.copyOf(repositories);
        groups = Map.copyOf(groups);
    }

    public record RepositoryPolicy(List<Grant> policies, Set<String> defaultPolicy, Set<String> anonymousPolicy) {
        public RepositoryPolicy {
            policies = List.copyOf(policies);
            defaultPolicy = Set.copyOf(defaultPolicy);
            anonymousPolicy = Set.copyOf(anonymousPolicy);
        }
    }

    public record Grant(Set<String> users, Set<String> groups, Set<String> actions) {
        public static final Grant NONE = new Grant(Set.of(), Set.of(), Set.of());

        public Grant {
            users = Set.copyOf(users);
            groups = Set.copyOf(groups);
            actions = Set.copyOf(actions);
        }
    }

    /** Who may read {@code /metrics}: listed users, and anonymous callers if {@code anonymousPolicy} has read. */
    public record MetricsPolicy(Set<String> users, Set<String> anonymousPolicy) {
        public MetricsPolicy {
            users = Set.copyOf(users);
            anonymousPolicy = Set.copyOf(anonymousPolicy);
        }
    }
}
