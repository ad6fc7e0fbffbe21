package dev.berth.ops;

import dev.berth.access.Glob;
import dev.berth.config.RetentionPolicy;
import dev.berth.config.RetentionPolicy.KeepTags;
import dev.berth.meta.MetadataStore.TagStats;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * zot's retention policies: which policy governs a repository (the first with a matching glob) and which of
 * its tags that policy keeps. A tag belongs to the first {@code keepTags} entry whose patterns it matches and
 * is dropped if it matches none; within an entry it is kept if any rule keeps it, or if the entry has no
 * rules. {@code pulledWithin} keeps what was pulled or pushed within the window, {@code pushedWithin} what was
 * pushed; the counts keep the most recently pulled or pushed.
 */
public final class Retention {
    private record Governed(RetentionPolicy policy, List<Glob> globs, List<List<Pattern>> patterns) {
    }

    private final List<Governed> policies;

    public Retention(List<RetentionPolicy> policies) {
        this.policies = policies.stream().map(p -> new Governed(p,
                p.repositories().stream().map(Glob::new).toList(),
                p.keepTags().stream().map(k -> k.patterns().stream().map(Pattern::compile).toList()).toList()))
                .toList();
    }

    public Optional<RetentionPolicy> policyFor(String repository) {
        return governed(repository).map(Governed::policy);
    }

    private Optional<Governed> governed(String repository) {
        return policies.stream().filter(g -> g.globs().stream().anyMatch(glob -> glob.matches(repository))).findFirst();
    }

    /** The tags of a repository its policy drops (none without a policy, or with no {@code keepTags}). */
    public List<String> tagsToDrop(String repository, List<TagStats> tags, Instant now) {
        Optional<Governed> found = governed(repository);
        if (found.isEmpty() || found.get().policy().keepTags().isEmpty()) {
            return List.of();
        }
        Governed g = found.get();
        Map<Integer, List<TagStats>> groups = new LinkedHashMap<>();
        List<String> dropped = new ArrayList<>();
        for (TagStats tag : tags) {
            int entry = firstMatching(g.patterns(), tag.tag());
            if (entry < 0) {
                dropped.add(tag.tag());
            } else {
                groups.computeIfAbsent(entry, k -> new ArrayList<>()).add(tag);
            }
        }
        for (var group : groups.entrySet()) {
            KeepTags keep = g.policy().keepTags().get(group.getKey());
            if (!keep.hasRules()) {
                continue;
            }
            Set<String> kept = kept(keep, group.getValue(), now);
            for (TagStats tag : group.getValue()) {
                if (!kept.contains(tag.tag())) {
                    dropped.add(tag.tag());
                }
            }
        }
        return dropped;
    }

    private static int firstMatching(List<List<Pattern>> entries, String tag) {
        for (int i = 0; i < entries.size(); i++) {
            List<Pattern> patterns = entries.get(i);
            if (patterns.isEmpty() || patterns.stream().anyMatch(p -> p.matcher(tag).find())) {
                return i;
            }
        }
        return -1;
    }

    private static Set<String> kept(KeepTags keep, List<TagStats> tags, Instant now) {
        Set<String> kept = new LinkedHashSet<>();
        if (keep.pulledWithin() != null) {
            Instant since = now.minus(keep.pulledWithin());
            tags.stream().filter(t -> after(t.pulledAt(), since) || after(t.pushedAt(), since))
                    .forEach(t -> kept.add(t.tag()));
        }
        if (keep.pushedWithin() != null) {
            Instant since = now.minus(keep.pushedWithin());
            tags.stream().filter(t -> after(t.pushedAt(), since)).forEach(t -> kept.add(t.tag()));
        }
        if (keep.mostRecentlyPulledCount() > 0) {
            mostRecent(tags, TagStats::pulledAt, keep.mostRecentlyPulledCount()).forEach(kept::add);
        }
        if (keep.mostRecentlyPushedCount() > 0) {
            mostRecent(tags, TagStats::pushedAt, keep.mostRecentlyPushedCount()).forEach(kept::add);
        }
        return kept;
    }

    private static boolean after(Instant at, Instant since) {
        return at != null && at.isAfter(since);
    }

    /** The {@code count} tags with the latest times (never-pulled ones last, ties by name for repeatability). */
    private static List<String> mostRecent(List<TagStats> tags, java.util.function.Function<TagStats, Instant> time,
                                           int count) {
        Map<String, Instant> times = new HashMap<>();
        tags.forEach(t -> times.put(t.tag(), time.apply(t) == null ? Instant.EPOCH : time.apply(t)));
        return tags.stream().map(TagStats::tag)
                .sorted(Comparator.comparing((String t) -> times.get(t)).reversed().thenComparing(Comparator.naturalOrder()))
                .limit(count).toList();
    }
}
