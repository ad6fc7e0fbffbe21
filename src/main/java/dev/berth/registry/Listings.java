package dev.berth.registry;

import dev.berth.meta.ManifestRecord;
import dev.berth.meta.MetadataStore;
import dev.berth.oci.Digest;
import dev.berth.oci.ErrorCode;
import dev.berth.oci.RegistryException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/** Content discovery: tag lists, the catalog and referrers. */
public final class Listings {
    /** The most entries one page of tags or catalog holds, whatever {@code n} asks for. */
    public static final int MAX_PAGE = 10_000;
    /** Catalog page size when the client gives no {@code n}. */
    public static final int DEFAULT_CATALOG_PAGE = 1_000;

    private final MetadataStore meta;

    Listings(MetadataStore meta) {
        this.meta = meta;
    }

    /**
     * Tags of a repository in byte order after {@code last}; {@code n} null means all of them.
     */
    /** Whether the repository holds anything (what may name a metric series, say). */
    public boolean exists(String repository) {
        return meta.repositoryExists(repository);
    }

    public Page tags(String repository, String last, Integer n) {
        if (!meta.repositoryExists(repository)) {
            throw RegistryException.of(ErrorCode.NAME_UNKNOWN, "repository " + repository + " not found");
        }
        if (n == null) {
            return new Page(meta.tags(repository, last, Integer.MAX_VALUE), false);
        }
        if (n == 0) {
            return new Page(List.of(), false);
        }
        int limit = Math.min(n, MAX_PAGE);
        return page(meta.tags(repository, last, limit + 1), limit);
    }

    /** Repositories the caller may see, in byte order after {@code last}, at most {@code n} (or a default). */
    public Page catalog(String last, Integer n, Predicate<String> visible) {
        if (n != null && n == 0) {
            return new Page(List.of(), false);
        }
        int limit = n == null ? DEFAULT_CATALOG_PAGE : Math.min(n, MAX_PAGE);
        List<String> found = new ArrayList<>();
        String cursor = last;
        // Hidden repositories must not shorten a page, so read on until the page is full or the list ends.
        while (found.size() <= limit) {
            List<String> batch = meta.repositories(cursor, limit + 1);
            for (String repository : batch) {
                if (visible.test(repository) && found.size() <= limit) {
                    found.add(repository);
                }
            }
            if (batch.size() < limit + 1) {
                break;
            }
            cursor = batch.get(batch.size() - 1);
        }
        return page(found, limit);
    }

    /** Every repository with its tag count, size and latest push, by name. */
    public List<MetadataStore.RepositorySummary> summaries() {
        return meta.repositorySummaries(null);
    }

    public java.util.Optional<MetadataStore.RepositorySummary> summary(String repository) {
        return meta.repositorySummaries(repository).stream().findFirst();
    }

    public List<String> tagsOf(String repository, Digest manifest, int limit) {
        return meta.tagsOf(repository, manifest, limit);
    }

    /** Manifests nothing points at (no tag, index or subject), newest first. */
    public List<ManifestRecord> untagged(String repository, int limit) {
        return meta.untagged(repository, limit);
    }

    /** What a pull of the manifest moves (for an index: of every platform); empty if there is no such manifest. */
    public java.util.OptionalLong imageBytes(String repository, Digest manifest) {
        return meta.imageBytes(repository, manifest);
    }

    /** Tags with what they name, after {@code after}, at most {@code limit}. */
    public List<MetadataStore.TagSummary> tagSummaries(String repository, String after, int limit) {
        return meta.tagSummaries(repository, after, Math.min(limit, MAX_PAGE));
    }

    /** Manifests whose subject is {@code subject}; an unknown repository or subject simply has none. */
    public List<ManifestRecord> referrers(String repository, Digest subject, String artifactType) {
        return meta.referrers(repository, subject, artifactType);
    }

    private static Page page(List<String> fetched, int limit) {
        if (fetched.size() > limit) {
            return new Page(fetched.subList(0, limit), true);
        }
        return new Page(fetched, false);
    }
}
