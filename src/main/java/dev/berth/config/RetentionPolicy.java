package dev.berth.config;

import java.time.Duration;
import java.util.List;

/**
 * One of zot's {@code storage.retention.policies}: the repositories it governs (globs; the first policy with a
 * matching glob applies), whether untagged manifests and referrers whose subject is gone are deleted, and
 * which tags are kept.
 */
public record RetentionPolicy(List<String> repositories, boolean deleteReferrers, boolean deleteUntagged,
                              List<KeepTags> keepTags) {
    public RetentionPolicy {
        repositories = List.copyOf(repositories);
        keepTags = List.copyOf(keepTags);
    }

    /**
     * Tags whose name matches one of {@code patterns} (regular expressions, found anywhere in the name; none
     * means every tag) are kept if any of the rules keeps them, or all of them when there are no rules. A
     * count of 0 and a null duration are rules not given.
     */
    public record KeepTags(List<String> patterns, int mostRecentlyPushedCount, int mostRecentlyPulledCount,
                           Duration pulledWithin, Duration pushedWithin) {
        public KeepTags {
            patterns = List.copyOf(patterns);
        }

        public boolean hasRules() {
            return mostRecentlyPushedCount > 0 || mostRecentlyPulledCount > 0 || pulledWithin != null
                    || pushedWithin != null;
        }
    }
}
