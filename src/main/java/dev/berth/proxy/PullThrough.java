package dev.berth.proxy;

import dev.berth.meta.ManifestRecord;
import dev.berth.meta.MetadataStore;
import dev.berth.oci.Digest;
import dev.berth.oci.DigestAlgorithm;
import dev.berth.oci.ErrorCode;
import dev.berth.oci.Manifest;
import dev.berth.oci.ManifestParser;
import dev.berth.oci.Reference;
import dev.berth.oci.RegistryException;
import dev.berth.registry.Registry;
import dev.berth.registry.StoredManifest;
import dev.berth.store.BlobStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pull-through cache, in front of the registry for mirrored repositories (and transparent for the others).
 * <ul>
 * <li>By digest: served locally if present, else fetched, verified, stored and served.</li>
 * <li>By tag: within the upstream's freshness window the local copy is served without asking; after it, one
 * HEAD revalidates (HEADs do not count against Docker Hub's pull limit) and the manifest is fetched only if the
 * digest changed. Concurrent requests for one tag share one revalidation.</li>
 * <li>When the upstream is unreachable, refuses Berth, rate-limits or fails, the cached copy is served (stale,
 * counted and logged); with nothing cached the client gets 404, 429 or 502 with the upstream's reason.</li>
 * <li>Blobs: a cold blob is fetched once however many clients ask, streamed to all of them as it arrives, and
 * kept only if it verifies.</li>
 * </ul>
 */
public final class PullThrough implements AutoCloseable {
    /** After an upstream failure, how long a stale tag is served before the upstream is asked again. */
    private static final Duration RETRY_STALE = Duration.ofSeconds(30);
    private static final Duration SETTLE = Duration.ofSeconds(30);
    private static final Logger LOG = LoggerFactory.getLogger(PullThrough.class);

    private final Mirrors mirrors;
    private final Map<Mirror, UpstreamClient> clients;
    private final Registry registry;
    private final BlobStore store;
    private final MetadataStore meta;
    private final Clock clock;
    private final ProxyMetrics metrics;
    private final SingleFlight<String, ManifestRecord> manifestFlights = new SingleFlight<>();
    private final SingleFlight<String, BlobFetch> blobFlights = new SingleFlight<>();
    private final SingleFlight<String, Long> sizeFlights = new SingleFlight<>();
    private final Map<String, BlobFetch> fetching = new java.util.concurrent.ConcurrentHashMap<>();

    public PullThrough(Mirrors mirrors, Registry registry, BlobStore store, MetadataStore meta, Clock clock,
                       ProxyMetrics metrics) throws Exception {
        this.mirrors = mirrors;
        this.registry = registry;
        this.store = store;
        this.meta = meta;
        this.clock = clock;
        this.metrics = metrics;
        Map<Mirror, UpstreamClient> made = new LinkedHashMap<>();
        try {
            for (Mirror m : mirrors.all()) {
                made.put(m, new UpstreamClient(m, clock, metrics));
            }
        } catch (Exception e) {
            made.values().forEach(UpstreamClient::close);
            throw e;
        }
        this.clients = Map.copyOf(made);
    }

    public Mirrors mirrors() {
        return mirrors;
    }

    public UpstreamClient client(Mirror mirror) {
        return clients.get(mirror);
    }

    // --- manifests -------------------------------------------------------------------------------------------

    /** The manifest's row (for HEAD); fetched and stored first when the repository is mirrored and it is cold. */
    public ManifestRecord findManifest(String repository, Reference reference) {
        Optional<Mirrors.Route> route = mirrors.route(repository);
        if (route.isEmpty()) {
            return registry.manifests().find(repository, reference);
        }
        return ensureManifest(route.get(), repository, reference);
    }

    /** The manifest with its bytes (for GET). */
    public StoredManifest getManifest(String repository, Reference reference) {
        Optional<Mirrors.Route> route = mirrors.route(repository);
        if (route.isEmpty()) {
            return registry.manifests().get(repository, reference);
        }
        ManifestRecord record = ensureManifest(route.get(), repository, reference);
        return registry.manifests().get(repository, Reference.of(record.digest()));
    }

    private ManifestRecord ensureManifest(Mirrors.Route route, String repository, Reference reference) {
        if (reference.isDigest()) {
            Optional<ManifestRecord> local = meta.manifest(repository, reference.digest());
            if (local.isPresent()) {
                metrics.answered("manifest", "hit");
                return local.get();
            }
            return flight(repository + "@" + reference.digest(), () -> fetchByDigest(route, repository, reference.digest()));
        }
        String tag = reference.tag();
        Optional<ManifestRecord> local = meta.taggedManifest(repository, tag);
        if (local.isPresent() && fresh(route, repository, tag)) {
            metrics.answered("manifest", "hit");
            return local.get();
        }
        return flight(repository + ":" + tag, () -> revalidate(route, repository, tag));
    }

    private boolean fresh(Mirrors.Route route, String repository, String tag) {
        Duration window = route.mirror().config().freshness();
        Optional<Instant> checked = meta.mirrorChecked(repository, tag);
        return checked.isPresent() && checked.get().plus(window).isAfter(clock.instant());
    }

    private ManifestRecord flight(String key, SingleFlight.Work<ManifestRecord> work) {
        try {
            return manifestFlights.run(key, work);
        } catch (RegistryException | UncheckedIOException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private ManifestRecord fetchByDigest(Mirrors.Route route, String repository, Digest digest) {
        Optional<ManifestRecord> local = meta.manifest(repository, digest);
        if (local.isPresent()) {
            return local.get(); // another flight fetched it just now
        }
        try {
            metrics.answered("manifest", "miss");
            UpstreamClient.FetchedManifest fetched = clients.get(route.mirror()).getManifest(route.upstreamRepository(),
                    digest.toString());
            return store(route, repository, fetched, digest, null);
        } catch (UpstreamException e) {
            throw refusal(route, e, "manifest " + digest);
        }
    }

    private ManifestRecord revalidate(Mirrors.Route route, String repository, String tag) {
        Optional<ManifestRecord> local = meta.taggedManifest(repository, tag);
        if (local.isPresent() && fresh(route, repository, tag)) {
            metrics.answered("manifest", "hit");
            return local.get(); // revalidated by the flight before this one
        }
        UpstreamClient client = clients.get(route.mirror());
        try {
            String reported = local.isPresent()
                    ? client.checkManifest(route.upstreamRepository(), tag) // a copy to fall back on: ask briefly
                    : client.headManifest(route.upstreamRepository(), tag);
            Digest upstream = reported == null ? null : parseOrNull(reported);
            if (local.isPresent() && upstream != null && local.get().digest().equals(upstream)) {
                meta.markMirrorChecked(repository, tag, clock.instant());
                metrics.answered("manifest", "hit");
                return local.get();
            }
            if (upstream != null) {
                Optional<ManifestRecord> known = meta.manifest(repository, upstream);
                if (known.isPresent()) {
                    registry.manifests().retagFetched(repository, known.get(), tag);
                    meta.markMirrorChecked(repository, tag, clock.instant());
                    metrics.answered("manifest", "hit");
                    return known.get();
                }
            }
            metrics.answered("manifest", "miss");
            UpstreamClient.FetchedManifest fetched = client.getManifest(route.upstreamRepository(),
                    upstream == null ? tag : upstream.toString());
            ManifestRecord record = store(route, repository, fetched, upstream, tag);
            meta.markMirrorChecked(repository, tag, clock.instant());
            return record;
        } catch (UpstreamException e) {
            if (local.isPresent() && e.kind() != UpstreamException.Kind.INVALID) {
                metrics.answered("manifest", "stale");
                LOG.warn("serving {}:{} from the cache: {}", repository, tag, e.getMessage());
                // Ask again in a while, not on every request meanwhile: the upstream is in trouble.
                Duration window = route.mirror().config().freshness();
                meta.markMirrorChecked(repository, tag, clock.instant().minus(window).plus(RETRY_STALE));
                return local.get();
            }
            throw refusal(route, e, "manifest " + tag);
        }
    }

    /** Verifies an upstream manifest (digest, document) and stores it exactly as served. */
    private ManifestRecord store(Mirrors.Route route, String repository, UpstreamClient.FetchedManifest fetched,
                                 Digest expected, String tag) throws UpstreamException {
        Verified verified = verify(route, fetched, expected);
        return registry.manifests().storeFetched(repository, verified.digest(), verified.manifest(), fetched.body(), tag);
    }

    /** An upstream manifest whose bytes hash to the digest asked for (or reported) and parse as a manifest. */
    private record Verified(Digest digest, Manifest manifest) {
    }

    private Verified verify(Mirrors.Route route, UpstreamClient.FetchedManifest fetched, Digest expected)
            throws UpstreamException {
        Digest reported = fetched.digestHeader() == null ? null : parseOrNull(fetched.digestHeader());
        DigestAlgorithm algorithm = expected != null ? expected.algorithm()
                : reported != null ? reported.algorithm() : DigestAlgorithm.SHA256;
        Digest actual = Digest.compute(algorithm, fetched.body());
        if ((expected != null && !expected.equals(actual)) || (reported != null && reported.algorithm() == algorithm
                && !reported.equals(actual))) {
            throw new UpstreamException(UpstreamException.Kind.INVALID, 200, "upstream " + route.mirror().name()
                    + " served a manifest that hashes to " + actual + ", not " + (expected != null ? expected : reported));
        }
        try {
            return new Verified(actual, ManifestParser.parse(fetched.body(), fetched.mediaType()));
        } catch (RegistryException e) {
            throw new UpstreamException(UpstreamException.Kind.INVALID, 200, "upstream " + route.mirror().name()
                    + " served a manifest Berth cannot serve: " + e.getMessage());
        }
    }

    // --- periodic sync ---------------------------------------------------------------------------------------

    /**
     * Brings a tag and everything it references (child manifests, configs, layers) into the cache, whatever the
     * freshness window says. Content comes first and the tag last, so a client never sees a synced tag whose
     * layers are not here yet. Periodic sync does this for every tag its filters select.
     */
    public void syncTag(Mirror mirror, String repository, String upstreamRepository, String tag) throws Exception {
        Mirrors.Route route = new Mirrors.Route(mirror, upstreamRepository);
        UpstreamClient client = clients.get(mirror);
        String reported = client.headManifest(upstreamRepository, tag);
        Digest digest = reported == null ? null : parseOrNull(reported);
        Optional<ManifestRecord> local = meta.taggedManifest(repository, tag);
        if (local.isPresent() && local.get().digest().equals(digest)) {
            syncReferences(route, repository, parsedLocal(repository, digest), 0); // an on-demand copy may lack layers
            meta.markMirrorChecked(repository, tag, clock.instant());
            return;
        }
        UpstreamClient.FetchedManifest fetched = client.getManifest(upstreamRepository,
                digest == null ? tag : digest.toString());
        Verified verified = verify(route, fetched, digest);
        syncReferences(route, repository, verified.manifest(), 0);
        manifestFlights.run(repository + ":" + tag, () -> {
            ManifestRecord record = registry.manifests().storeFetched(repository, verified.digest(), verified.manifest(),
                    fetched.body(), tag);
            meta.markMirrorChecked(repository, tag, clock.instant());
            return record;
        });
    }

    private Manifest parsedLocal(String repository, Digest digest) {
        StoredManifest stored = registry.manifests().get(repository, Reference.of(digest));
        return ManifestParser.parse(stored.content(), stored.mediaType());
    }

    /** Child manifests (each stored once its own content is here), then configs and layers. */
    private void syncReferences(Mirrors.Route route, String repository, Manifest manifest, int depth) throws Exception {
        if (depth > 4) {
            throw new UpstreamException(UpstreamException.Kind.INVALID, 200, "indexes nest deeper than Berth follows");
        }
        for (var child : manifest.manifests()) {
            if (meta.manifest(repository, child.digest()).isPresent()) {
                syncReferences(route, repository, parsedLocal(repository, child.digest()), depth + 1);
                continue;
            }
            UpstreamClient.FetchedManifest fetched = clients.get(route.mirror()).getManifest(route.upstreamRepository(),
                    child.digest().toString());
            Verified verified = verify(route, fetched, child.digest());
            syncReferences(route, repository, verified.manifest(), depth + 1);
            registry.manifests().storeFetched(repository, verified.digest(), verified.manifest(), fetched.body(), null);
        }
        for (var blob : manifest.references()) {
            if (manifest.manifests().contains(blob) || dev.berth.oci.MediaTypes.isNonDistributable(blob.mediaType())) {
                continue;
            }
            BlobFetch fetch = cachedOrFetching(route, repository, blob.digest());
            if (fetch != null) {
                fetch.awaitStored();
            }
        }
    }

    // --- blobs -----------------------------------------------------------------------------------------------

    /** The size of a blob, for HEAD: from the cache, else as the upstream reports it (nothing is fetched). */
    public long blobSize(String repository, Digest digest) {
        Optional<Mirrors.Route> route = mirrors.route(repository);
        if (route.isEmpty()) {
            return registry.blobs().size(repository, digest);
        }
        BlobFetch inFlight = fetching.get(repository + "@" + digest); // before the link: see cachedOrFetching
        try {
            if (inFlight != null) {
                long length = inFlight.awaitLength();
                if (length >= 0) {
                    return length;
                }
            }
            var linked = meta.linkedBlobSize(repository, digest);
            if (linked.isPresent()) {
                return linked.getAsLong();
            }
            // Concurrent HEADs of one cold blob share one upstream HEAD.
            long size = sizeFlights.run(repository + "@" + digest,
                    () -> clients.get(route.get().mirror()).headBlob(route.get().upstreamRepository(), digest));
            // Only one blob is empty, and its digest says so: a 0 for any other is an upstream that did not say.
            if (size > 0 || (size == 0 && digest.equals(Digest.compute(digest.algorithm(), new byte[0])))) {
                return size;
            }
            // The upstream did not say; the download will.
            try (SeekableByteChannel reader = openBlob(repository, digest, true)) {
                return reader.size();
            }
        } catch (UpstreamException e) {
            throw refusal(route.get(), e, "blob " + digest);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (RegistryException | UncheckedIOException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** Opens a blob for GET: cached, or fetched once and streamed to every client that asks meanwhile. */
    public SeekableByteChannel openBlob(String repository, Digest digest) {
        return openBlob(repository, digest, false);
    }

    /**
     * The same, for a client that asked for a range ({@code ranged}): a blob still arriving gives it nothing
     * until all of it has been verified, since the range may end before the digest can vouch for it.
     */
    public SeekableByteChannel openBlob(String repository, Digest digest, boolean ranged) {
        Optional<Mirrors.Route> route = mirrors.route(repository);
        if (route.isEmpty()) {
            return registry.blobs().open(repository, digest);
        }
        BlobFetch fetch = cachedOrFetching(route.get(), repository, digest);
        try {
            return counting(route.get(), fetch == null ? registry.blobs().open(repository, digest)
                    : ranged ? fetch.verifiedReader() : fetch.reader());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Null when the repository already holds the blob; otherwise the one download of it, started if need be. */
    private BlobFetch cachedOrFetching(Mirrors.Route route, String repository, Digest digest) {
        // In-flight first: a download leaves this map only after its blob is linked, so no request falls between.
        String key = repository + "@" + digest;
        BlobFetch inFlight = fetching.get(key);
        if (inFlight != null) {
            metrics.answered("blob", "hit"); // joins the one download: no request of its own upstream
            return inFlight;
        }
        if (meta.linkedBlobSize(repository, digest).isPresent()) {
            metrics.answered("blob", "hit");
            return null;
        }
        // Bytes stored for another repository are not linked on the upstream's word (a HEAD): an upstream that
        // claimed any digest would open other repositories' layers to whoever may read this one. The upstream
        // must serve the bytes, and they must hash right; the store then keeps the one copy it has.
        try {
            return blobFlights.run(key, () -> {
                BlobFetch running = fetching.get(key);
                if (running != null) {
                    metrics.answered("blob", "hit");
                    return running;
                }
                return start(route, repository, digest);
            });
        } catch (UpstreamException e) {
            throw refusal(route, e, "blob " + digest);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (RegistryException | UncheckedIOException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Starts the one download of a cold blob, on a thread of its own that outlives the requests reading it. The
     * thread starts before the upstream answers, to make the upload ready meanwhile: a client's first byte
     * waits for the upstream alone.
     */
    private BlobFetch start(Mirrors.Route route, String repository, Digest digest) {
        metrics.answered("blob", "miss");
        BlobFetch fetch = new BlobFetch(store, registry.locks(), digest);
        String key = repository + "@" + digest;
        CompletableFuture<UpstreamClient.Streamed> answer = new CompletableFuture<>();
        Thread.ofVirtual().name("berth-fetch-" + digest.hex().substring(0, 12)).start(() -> {
            try {
                fetch.download(answer.thenApply(r -> new BlobFetch.Source(countingFetched(route, r.body()), r.length())),
                        size -> {
                            meta.linkBlob(repository, digest, size);
                            LOG.info("cached {}@{} ({} bytes) from {}", repository, digest, size, route.mirror().name());
                        });
            } finally {
                // Once the request thread is done with the map: a download that failed before the upstream
                // answered (its upload could not be made) would otherwise be put there after its removal, and
                // every later request for the blob would join it.
                answer.whenComplete((response, refused) -> {
                    if (response != null) {
                        response.close();
                    }
                    fetching.remove(key, fetch);
                });
            }
        });
        UpstreamClient.Streamed response;
        try {
            response = clients.get(route.mirror()).getBlob(route.upstreamRepository(), digest);
        } catch (UpstreamException e) {
            answer.completeExceptionally(e);
            throw refusal(route, e, "blob " + digest);
        } catch (RuntimeException | Error e) {
            answer.completeExceptionally(e);
            throw e;
        }
        fetching.put(key, fetch); // joinable before the first byte arrives
        answer.complete(response);
        return fetch;
    }

    /**
     * Waits for a download of this blob into this repository to be stored, if one is running: a client may have
     * every byte before the blob is recorded, and what it does next (a delete, say) must find it recorded.
     */
    public void settle(String repository, Digest digest) {
        BlobFetch running = fetching.get(repository + "@" + digest);
        if (running != null) {
            running.awaitStored(SETTLE); // not forever: a download that crawls must not hold the caller
        }
    }

    /** Counts bytes as they arrive from upstream, so a download that fails part-way is counted too. */
    private java.io.InputStream countingFetched(Mirrors.Route route, java.io.InputStream body) {
        String upstream = route.mirror().name();
        return new java.io.FilterInputStream(body) {
            @Override
            public int read() throws IOException {
                int b = super.read();
                if (b >= 0) {
                    metrics.fetched(upstream, 1);
                }
                return b;
            }

            @Override
            public int read(byte[] bytes, int offset, int length) throws IOException {
                int n = super.read(bytes, offset, length);
                if (n > 0) {
                    metrics.fetched(upstream, n);
                }
                return n;
            }
        };
    }

    /** Counts the bytes clients read from a mirrored repository. */
    private SeekableByteChannel counting(Mirrors.Route route, SeekableByteChannel channel) {
        return new SeekableByteChannel() {
            @Override
            public int read(ByteBuffer dst) throws IOException {
                int n = channel.read(dst);
                if (n > 0) {
                    metrics.served(route.mirror().name(), n);
                }
                return n;
            }

            @Override
            public int write(ByteBuffer src) throws IOException {
                return channel.write(src);
            }

            @Override
            public long position() throws IOException {
                return channel.position();
            }

            @Override
            public SeekableByteChannel position(long p) throws IOException {
                channel.position(p);
                return this;
            }

            @Override
            public long size() throws IOException {
                return channel.size();
            }

            @Override
            public SeekableByteChannel truncate(long size) throws IOException {
                channel.truncate(size);
                return this;
            }

            @Override
            public boolean isOpen() {
                return channel.isOpen();
            }

            @Override
            public void close() throws IOException {
                channel.close();
            }
        };
    }

    // --- answers when the upstream does not deliver ----------------------------------------------------------

    /**
     * With nothing cached: what the upstream said, as the client should hear it. A 404 is a 404; a rate limit
     * is passed on with its Retry-After; anything else is a 502 naming the upstream and its reason.
     */
    private static RegistryException refusal(Mirrors.Route route, UpstreamException e, String what) {
        if (e.kind() != UpstreamException.Kind.NOT_FOUND) {
            LOG.warn("cannot serve {} of upstream repository {}: {}", what, route.upstreamRepository(), e.getMessage());
        }
        return switch (e.kind()) {
            case NOT_FOUND -> RegistryException.of(what.startsWith("blob") ? ErrorCode.BLOB_UNKNOWN : ErrorCode.MANIFEST_UNKNOWN,
                    what + " not found upstream at " + route.mirror().name() + " (" + route.upstreamRepository() + ")");
            case RATE_LIMITED -> {
                RegistryException r = RegistryException.of(ErrorCode.TOOMANYREQUESTS, 429, "upstream "
                        + route.mirror().name() + " is rate-limiting Berth and " + what + " is not cached");
                yield e.retryAfter() == null ? r : r.withHeader("Retry-After", Long.toString(e.retryAfter().toSeconds()));
            }
            default -> RegistryException.of(ErrorCode.UNAVAILABLE, 502, e.getMessage() + "; " + what + " is not cached");
        };
    }

    private static Digest parseOrNull(String digest) {
        try {
            return Digest.parse(digest);
        } catch (RegistryException e) {
            return null;
        }
    }

    @Override
    public void close() {
        clients.values().forEach(UpstreamClient::close);
    }
}
