package dev.berth.registry;

import dev.berth.meta.MetadataStore;
import dev.berth.store.BlobStore;
import java.time.Clock;

/** The registry's operations, grouped by the resource they act on. Knows nothing of HTTP. */
public record Registry(Blobs blobs, Uploads uploads, Manifests manifests, Listings listings, BlobLocks locks,
                       Pulls pulls) {

    public static Registry create(BlobStore store, MetadataStore meta, Clock clock) {
        BlobLocks locks = new BlobLocks(meta);
        return new Registry(new Blobs(store, meta, locks), new Uploads(store, meta, clock, locks),
                new Manifests(store, meta, clock, locks), new Listings(meta), locks, new Pulls(meta, clock));
    }
}
