package dev.berth.proxy;

import dev.berth.config.Durations;
import dev.berth.config.SyncConfig;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Periodic sync ({@code pollInterval}): walks an upstream's catalog, picks the repositories its content rules take
 * and the tags their filters select ({@code regex}, {@code excludeRegex}, {@code semver}), and brings each tag with
 * everything it references into the cache. Docker Hub has no catalog to walk, so it is skipped, saying so.
 */
public final class Syncer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Syncer.class);
    private static final Pattern SEMVER = Pattern.compile(
            "v?(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)(?:-[0-9A-Za-z.-]+)?(?:\\+[0-9A-Za-z.-]+)?");

    private final PullThrough pullThrough;
    private final ScheduledExecutorService schedule = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().daemon().name("berth-sync").factory());

    /** The outcome of one pass over one upstream. */
    public record Pass(String upstream, int repositories, int tags, int failures) {
    }

    public Syncer(PullThrough pullThrough) {
        this.pullThrough = pullThrough;
    }

    /** Schedules every upstream that has a {@code pollInterval}. */
    public void start() {
        for (Mirror mirror : pullThrough.mirrors().all()) {
            if (mirror.config().pollInterval() == null) {
                continue;
            }
            if (mirror.upstreamIsDockerHub()) {
                LOG.info("periodic sync of {} skipped: Docker Hub has no catalog to walk; its images come on demand",
                        mirror.name());
                continue;
            }
            long every = Math.max(1, mirror.config().pollInterval().toSeconds());
            // zot syncs once at start and then every pollInterval; so does Berth, off the request path.
            schedule.scheduleWithFixedDelay(() -> runGuarded(mirror), 0, every, TimeUnit.SECONDS);
        }
    }

    /**
     * A pass that cannot end the schedule: an executor runs no more passes of a task that once threw, so
     * whatever an upstream provokes is logged and the next pass comes as planned.
     */
    private void runGuarded(Mirror mirror) {
        try {
            run(mirror);
        } catch (RuntimeException e) {
            LOG.warn("periodic sync of {} failed; it runs again in {}", mirror.name(),
                    Durations.format(mirror.config().pollInterval()), e);
        }
    }

    /** One pass over an upstream. */
    public Pass run(Mirror mirror) {
        UpstreamClient client = pullThrough.client(mirror);
        Instant started = Instant.now();
        int repositories = 0;
        int tags = 0;
        int failures = 0;
        List<String> catalog;
        try {
            catalog = client.catalog();
        } catch (UpstreamException e) {
            LOG.warn("periodic sync of {}: cannot list its catalog: {}", mirror.name(), e.getMessage());
            return new Pass(mirror.name(), 0, 0, 1);
        }
        for (String upstreamRepository : catalog) {
            Optional<String> local = mirror.localName(upstreamRepository);
            if (local.isEmpty()) {
                continue;
            }
            repositories++;
            SyncConfig.Content rule = mirror.contentFor(local.get()).orElseThrow();
            List<String> selected;
            try {
                selected = select(client.tags(upstreamRepository), rule);
            } catch (UpstreamException e) {
                LOG.warn("periodic sync of {}/{}: cannot list tags: {}", mirror.name(), upstreamRepository, e.getMessage());
                failures++;
                continue;
            }
            for (String tag : selected) {
                if (Thread.currentThread().isInterrupted()) {
                    return new Pass(mirror.name(), repositories, tags, failures); // Berth is stopping
                }
                try {
                    pullThrough.syncTag(mirror, local.get(), upstreamRepository, tag);
                    tags++;
                } catch (Exception e) {
                    failures++;
                    LOG.warn("periodic sync of {}/{}:{} failed: {}", mirror.name(), upstreamRepository, tag, e.getMessage());
                }
            }
        }
        LOG.info("periodic sync of {}: {} tags of {} repositories in the cache, {} failures, in {}", mirror.name(), tags,
                repositories, failures, Durations.format(Duration.between(started, Instant.now())));
        return new Pass(mirror.name(), repositories, tags, failures);
    }

    /** The tags a content rule's filters select. */
    static List<String> select(List<String> tags, SyncConfig.Content rule) {
        List<String> selected = new ArrayList<>();
        Pattern include = rule.tagRegex() == null ? null : Pattern.compile(rule.tagRegex());
        Pattern exclude = rule.tagExcludeRegex() == null ? null : Pattern.compile(rule.tagExcludeRegex());
        for (String tag : tags) {
            if (include != null && !include.matcher(tag).find()) {
                continue;
            }
            if (exclude != null && exclude.matcher(tag).find()) {
                continue;
            }
            if (rule.semver() && !SEMVER.matcher(tag).matches()) {
                continue;
            }
            selected.add(tag);
        }
        return selected;
    }

    @Override
    public void close() {
        schedule.shutdownNow();
        try {
            if (!schedule.awaitTermination(10, TimeUnit.SECONDS)) {
                LOG.warn("periodic sync did not stop within 10 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
