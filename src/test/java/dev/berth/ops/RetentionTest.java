package dev.berth.ops;

import static org.assertj.core.api.Assertions.assertThat;

import dev.berth.config.RetentionPolicy;
import dev.berth.config.RetentionPolicy.KeepTags;
import dev.berth.meta.MetadataStore.TagStats;
import dev.berth.oci.Digest;
import dev.berth.oci.DigestAlgorithm;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** zot's retention rules, as pure decisions over tag statistics. */
class RetentionTest {
    private static final Instant NOW = Instant.parse("2026-12-01T00:00:00Z");
    private static final Digest D = Digest.compute(DigestAlgorithm.SHA256, new byte[0]);

    private static TagStats tag(String name, int pushedDaysAgo, Integer pulledDaysAgo) {
        return new TagStats(name, D, NOW.minus(Duration.ofDays(pushedDaysAgo)),
                pulledDaysAgo == null ? null : NOW.minus(Duration.ofDays(pulledDaysAgo)));
    }

    private static KeepTags keep(List<String> patterns, int pushedCount, int pulledCount, Duration pulledWithin,
                                 Duration pushedWithin) {
        return new KeepTags(patterns, pushedCount, pulledCount, pulledWithin, pushedWithin);
    }

    private static Retention retention(List<KeepTags> keepTags) {
        return new Retention(List.of(
                new RetentionPolicy(List.of("infra/*"), false, true, keepTags),
                new RetentionPolicy(List.of("**"), true, false, List.of())));
    }

    @Test
    void theFirstPolicyWithAMatchingGlobGoverns() {
        Retention r = retention(List.of());
        assertThat(r.policyFor("infra/app").orElseThrow().repositories()).containsExactly("infra/*");
        assertThat(r.policyFor("infra/app/sub").orElseThrow().repositories()).containsExactly("**");
        assertThat(new Retention(List.of()).policyFor("x")).isEmpty();
    }

    @Test
    void tagsMatchingNoPatternGoAndAnEntryWithoutRulesKeepsAll() {
        Retention r = retention(List.of(keep(List.of("^v"), 0, 0, null, null)));
        List<TagStats> tags = List.of(tag("v1", 100, null), tag("v2", 1, null), tag("dev", 1, 0), tag("main-v3", 1, 0));
        assertThat(r.tagsToDrop("infra/app", tags, NOW)).containsExactlyInAnyOrder("dev", "main-v3");
        assertThat(r.tagsToDrop("other/app", tags, NOW)).as("no keepTags: retention drops nothing").isEmpty();
    }

    @Test
    void anyRuleOfTheEntryKeeps() {
        Retention r = retention(List.of(keep(List.of(), 2, 1, null, Duration.ofDays(10))));
        List<TagStats> tags = List.of(
                tag("a", 50, 1),     // most recently pulled
                tag("b", 40, null),
                tag("c", 5, null),   // pushed within 10 days, and among the 2 most recently pushed
                tag("d", 3, null),   // same
                tag("e", 30, 20));
        assertThat(r.tagsToDrop("infra/app", tags, NOW)).containsExactlyInAnyOrder("b", "e");
    }

    @Test
    void pulledWithinCountsAPushAsRecentUseToo() {
        Retention r = retention(List.of(keep(List.of(), 0, 0, Duration.ofDays(30), null)));
        List<TagStats> tags = List.of(tag("fresh-push", 2, null), tag("fresh-pull", 90, 3), tag("stale", 90, 60),
                tag("never", 90, null));
        assertThat(r.tagsToDrop("infra/app", tags, NOW)).containsExactlyInAnyOrder("stale", "never");
    }

    @Test
    void aTagBelongsToTheFirstEntryItsNameMatches() {
        Retention r = retention(List.of(
                keep(List.of("-prod$"), 0, 0, null, null),          // every prod tag, whatever its age
                keep(List.of("."), 1, 0, null, null)));              // of the rest, the newest push
        List<TagStats> tags = List.of(tag("1-prod", 300, null), tag("2-prod", 200, null), tag("old", 50, null),
                tag("new", 1, null));
        assertThat(r.tagsToDrop("infra/app", tags, NOW)).containsExactly("old");
    }
}
