package dev.berth.meta;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.berth.oci.Digest;
import dev.berth.oci.DigestAlgorithm;
import dev.berth.oci.ErrorCode;
import dev.berth.oci.RegistryException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.function.BiConsumer;
import java.util.Set;

/** The metadata store on SQL: SQLite embedded by default, PostgreSQL when configured; one SQL dialect for both. */
public final class JdbcMetadataStore implements MetadataStore, AccessStore {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final TypeReference<Map<String, String>> STRING_MAP = new TypeReference<>() {
    };
    private static final TypeReference<List<String>> STRING_LIST = new TypeReference<>() {
    };
    private static final String MANIFEST_COLUMNS =
            "repository, digest, media_type, size, artifact_type, subject, annotations, pushed_at";

    /** The bytes of the blobs a manifest lists, for a row aliased %1$s with repository and digest columns. */
    private static final String BLOB_BYTES = "(SELECT COALESCE(SUM(b.size), 0) FROM manifest_references r"
            + " JOIN blobs b ON b.digest = r.target"
            + " WHERE r.repository = %1$s.repository AND r.manifest = %1$s.digest AND r.kind = 'BLOB')";

    private final Database db;
    private final Clock clock;

    private JdbcMetadataStore(Database db, Clock clock) {
        this.db = db;
        this.clock = clock;
    }

    /** Opens (creating and migrating as needed) the SQLite database at {@code file}. */
    public static JdbcMetadataStore sqlite(Path file, Clock clock) {
        return migrated(Database.sqlite(file, 8), clock);
    }

    /**
     * Connects to PostgreSQL (see {@link Database#postgres}) and brings its schema up to date. Several Berth
     * processes may share one database.
     */
    public static JdbcMetadataStore postgres(String url, String user, String password, int connections, Clock clock) {
        return migrated(Database.postgres(url, user, password, connections), clock);
    }

    /**
     * Registers this process on the database until closed (see {@link Database#claim}): {@code alone} refuses
     * every other process, as for a node that keeps blobs on its own disk; otherwise it joins the nodes of a
     * cluster. Throws when the database is held the other way.
     */
    public void claim(boolean alone) {
        db.claim(alone);
    }

    /**
     * Binds this database to the blob store at {@code location} (such as {@code s3://bucket/prefix}) the first
     * time, and afterwards refuses any other: a node that saw other blobs than the rows describe would forget
     * records whose bytes it cannot find, or collect bytes it has no record of. Returns the database's id.
     */
    public String bindBlobStore(String location) {
        return db.write(c -> {
            Optional<String> id = firstString(c, "SELECT value FROM berth_store WHERE name = 'id'");
            if (id.isEmpty()) {
                update(c, "INSERT INTO berth_store (name, value) VALUES ('id', ?)", java.util.UUID.randomUUID().toString());
                id = firstString(c, "SELECT value FROM berth_store WHERE name = 'id'");
            }
            Optional<String> bound = firstString(c, "SELECT value FROM berth_store WHERE name = 'blobs'");
            if (bound.isEmpty()) {
                update(c, "INSERT INTO berth_store (name, value) VALUES ('blobs', ?)", location);
            } else if (!bound.get().equals(location)) {
                throw new IllegalStateException("this database describes the blobs in " + bound.get()
                        + ", but this Berth is configured to keep them in " + location + "; every node sharing a"
                        + " database must name the same storage (storage.storageDriver: bucket and rootdirectory)");
            }
            return id.get();
        });
    }

    /** Whether the database answers now, within seconds, and this node is still registered on it (readiness). */
    public boolean reachable() {
        try {
            return db.reachable();
        } catch (MetadataException e) {
            return false;
        }
    }

    /** Registers this node on the database again if PostgreSQL forgot it (see {@link Database#renewClaim}). */
    public void renewClaim() {
        db.renewClaim();
    }

    @Override
    public Held lockBlob(Digest digest) {
        Database.Held held = db.lock(Database.BLOBS, digest.toString());
        return held::close;
    }

    @Override
    public <T> Optional<T> ifAlone(String name, java.util.function.Supplier<T> work) {
        Optional<Database.Held> held = db.tryLock(Database.LEASES, name);
        if (held.isEmpty()) {
            return Optional.empty();
        }
        try (Database.Held lock = held.get()) {
            return Optional.ofNullable(work.get());
        }
    }

    private static JdbcMetadataStore migrated(Database db, Clock clock) {
        try {
            Migrations.apply(db, clock.millis());
        } catch (RuntimeException e) {
            db.close();
            throw e;
        }
        return new JdbcMetadataStore(db, clock);
    }

    @Override
    public boolean repositoryExists(String repository) {
        return db.readCached("repository", repository, "", c -> exists(c, "SELECT 1 FROM repositories WHERE name = ?", repository));
    }

    @Override
    public List<String> repositories(String after, int limit) {
        return db.read(c -> strings(c, "SELECT name FROM repositories WHERE name > ? ORDER BY name LIMIT ?",
                after == null ? "" : after, limit));
    }

    @Override
    public Collected collect(String repository, Collection how, boolean dryRun) {
        Instant cutoff = how.manifestCutoff();
        boolean orphanReferrers = how.orphanReferrers();
        Database.Work<Collected> work = c -> {
            List<String> tags = new ArrayList<>();
            for (TagStats tag : how.dropTags()) {
                if (update(c, "DELETE FROM tags WHERE repository = ? AND name = ? AND digest = ? AND updated_at = ?",
                        repository, tag.tag(), tag.digest().toString(), tag.pushedAt().toEpochMilli()) > 0) {
                    tags.add(tag.tag());
                }
            }
            List<Digest> manifests = new ArrayList<>();
            while (how.untagged()) {
                List<String> untagged = strings(c, "SELECT m.digest FROM manifests m WHERE m.repository = ?"
                        + " AND m.pushed_at < ?"
                        + " AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.repository = m.repository AND t.digest = m.digest)"
                        + " AND NOT EXISTS (SELECT 1 FROM manifest_references r WHERE r.repository = m.repository"
                        + "   AND r.target = m.digest AND r.kind = 'MANIFEST')"
                        + " AND (m.subject IS NULL OR (? = 1 AND NOT EXISTS (SELECT 1 FROM manifests s"
                        + "   WHERE s.repository = m.repository AND s.digest = m.subject)))"
                        + " ORDER BY m.digest LIMIT ?", repository, cutoff.toEpochMilli(), orphanReferrers ? 1 : 0, 10_000);
                if (untagged.isEmpty()) {
                    break;
                }
                for (String d : untagged) {
                    update(c, "DELETE FROM manifest_references WHERE repository = ? AND manifest = ?", repository, d);
                    update(c, "DELETE FROM manifests WHERE repository = ? AND digest = ?", repository, d);
                    manifests.add(Digest.parse(d));
                }
            }
            List<String> unused = strings(c, "SELECT rb.digest FROM repository_blobs rb WHERE rb.repository = ?"
                    + " AND rb.linked_at < ?"
                    + " AND NOT EXISTS (SELECT 1 FROM manifest_references r WHERE r.repository = rb.repository"
                    + "   AND r.target = rb.digest)"
                    + " AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.repository = rb.repository"
                    + "   AND m.digest = rb.digest)"
                    + " ORDER BY rb.digest LIMIT ?", repository, how.linkCutoff().toEpochMilli(), Integer.MAX_VALUE);
            List<Digest> unlinked = new ArrayList<>();
            for (String d : unused) {
                update(c, "DELETE FROM repository_blobs WHERE repository = ? AND digest = ?", repository, d);
                unlinked.add(Digest.parse(d));
            }
            pruneRepository(c, repository);
            return new Collected(tags, manifests, unlinked);
        };
        return dryRun ? db.trial(work) : db.write(work);
    }

    @Override
    public List<TagStats> tagStats(String repository) {
        return db.read(c -> {
            List<TagStats> found = new ArrayList<>();
            try (PreparedStatement s = prepare(c, "SELECT t.name, t.digest, t.updated_at, m.last_pulled_at FROM tags t"
                    + " LEFT JOIN manifests m ON m.repository = t.repository AND m.digest = t.digest"
                    + " WHERE t.repository = ? ORDER BY t.name", repository);
                 ResultSet rows = s.executeQuery()) {
                while (rows.next()) {
                    long pulled = rows.getLong(4);
                    found.add(new TagStats(rows.getString(1), Digest.parse(rows.getString(2)),
                            Instant.ofEpochMilli(rows.getLong(3)), rows.wasNull() ? null : Instant.ofEpochMilli(pulled)));
                }
            }
            return found;
        });
    }

    @Override
    public void recordPulls(Map<ManifestKey, PullCount> pulls) {
        if (pulls.isEmpty()) {
            return;
        }
        db.write(c -> {
            try (PreparedStatement s = c.prepareStatement("UPDATE manifests SET pull_count = pull_count + ?,"
                    + " last_pulled_at = CASE WHEN last_pulled_at IS NULL OR last_pulled_at < ? THEN ?"
                    + " ELSE last_pulled_at END WHERE repository = ? AND digest = ?")) {
                for (var e : pulls.entrySet()) {
                    long last = e.getValue().last().toEpochMilli();
                    s.setLong(1, e.getValue().count());
                    s.setLong(2, last);
                    s.setLong(3, last);
                    s.setString(4, e.getKey().repository());
                    s.setString(5, e.getKey().digest().toString());
                    s.addBatch();
                }
                s.executeBatch();
            }
            return null;
        });
    }

    @Override
    public java.util.Map<Digest, Long> unlinkedBlobs(int limit) {
        return db.read(c -> {
            java.util.Map<Digest, Long> found = new java.util.LinkedHashMap<>();
            try (PreparedStatement s = prepare(c, "SELECT b.digest, b.size FROM blobs b WHERE NOT EXISTS"
                    + " (SELECT 1 FROM repository_blobs r WHERE r.digest = b.digest) ORDER BY b.digest LIMIT ?", limit);
                 ResultSet rows = s.executeQuery()) {
                while (rows.next()) {
                    found.put(Digest.parse(rows.getString(1)), rows.getLong(2));
                }
            }
            return found;
        });
    }

    @Override
    public List<Digest> recordedBlobs(String after, int limit) {
        return db.read(c -> strings(c, "SELECT digest FROM blobs WHERE digest > ? ORDER BY digest LIMIT ?",
                after == null ? "" : after, limit)).stream().map(Digest::parse).toList();
    }

    @Override
    public int linkCount(Digest digest) {
        return db.read(c -> (int) firstLong(c, "SELECT COUNT(*) FROM repository_blobs WHERE digest = ?",
                digest.toString()).orElse(0));
    }

    @Override
    public boolean forgetBlobIfUnlinked(Digest digest) {
        return db.write(c -> update(c, "DELETE FROM blobs WHERE digest = ? AND NOT EXISTS"
                + " (SELECT 1 FROM repository_blobs r WHERE r.digest = blobs.digest)", digest.toString()) > 0);
    }

    @Override
    public boolean blobRecorded(Digest digest) {
        return db.read(c -> exists(c, "SELECT 1 FROM blobs WHERE digest = ?", digest.toString()));
    }

    @Override
    public List<String> forgetCorrupt(Digest digest, java.util.function.Predicate<String> refetchable) {
        String d = digest.toString();
        return db.write(c -> {
            List<String> holders = strings(c, "SELECT repository FROM repository_blobs WHERE digest = ? ORDER BY repository"
                    + " LIMIT ?", d, Integer.MAX_VALUE);
            for (String repository : holders) {
                if (refetchable.test(repository)) {
                    update(c, "DELETE FROM tags WHERE repository = ? AND digest = ?", repository, d);
                    update(c, "DELETE FROM manifest_references WHERE repository = ? AND manifest = ?", repository, d);
                    update(c, "DELETE FROM manifests WHERE repository = ? AND digest = ?", repository, d);
                }
                update(c, "DELETE FROM repository_blobs WHERE repository = ? AND digest = ?", repository, d);
            }
            update(c, "DELETE FROM blobs WHERE digest = ?", d);
            return holders;
        });
    }

    @Override
    public List<String> uploadsStartedBefore(Instant cutoff) {
        return db.read(c -> strings(c, "SELECT id FROM uploads WHERE started_at < ? ORDER BY id LIMIT ?",
                cutoff.toEpochMilli(), 100_000));
    }

    @Override
    public java.util.Map<String, Long> repositorySizes() {
        return db.read(c -> {
            java.util.Map<String, Long> sizes = new java.util.TreeMap<>();
            try (var statement = c.prepareStatement("SELECT rb.repository, SUM(b.size) FROM repository_blobs rb"
                    + " JOIN blobs b ON b.digest = rb.digest GROUP BY rb.repository");
                 var rows = statement.executeQuery()) {
                while (rows.next()) {
                    sizes.put(rows.getString(1), rows.getLong(2));
                }
            }
            return sizes;
        });
    }

    @Override
    public List<RepositorySummary> repositorySummaries(String name) {
        String sql = "SELECT r.name,"
                + " (SELECT COUNT(*) FROM tags t WHERE t.repository = r.name),"
                + " (SELECT COALESCE(SUM(b.size), 0) FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest"
                + "   WHERE rb.repository = r.name),"
                + " (SELECT MAX(m.pushed_at) FROM manifests m WHERE m.repository = r.name)"
                + " FROM repositories r" + (name == null ? "" : " WHERE r.name = ?") + " ORDER BY r.name";
        return db.read(c -> {
            try (PreparedStatement s = prepare(c, sql, name == null ? new Object[0] : new Object[] {name});
                 ResultSet rows = s.executeQuery()) {
                List<RepositorySummary> found = new ArrayList<>();
                while (rows.next()) {
                    long pushed = rows.getLong(4);
                    Instant lastPush = rows.wasNull() ? null : Instant.ofEpochMilli(pushed);
                    found.add(new RepositorySummary(rows.getString(1), rows.getInt(2), rows.getLong(3), lastPush));
                }
                return found;
            }
        });
    }

    @Override
    public List<TagSummary> tagSummaries(String repository, String after, int limit) {
        String sql = "SELECT m.repository, m.digest, m.media_type, m.size, m.artifact_type, m.subject, m.annotations,"
                + " m.pushed_at, t.name, t.updated_at, " + BLOB_BYTES.formatted("t")
                + " FROM tags t JOIN manifests m ON m.repository = t.repository AND m.digest = t.digest"
                + " WHERE t.repository = ? AND t.name > ? ORDER BY t.name LIMIT ?";
        return db.read(c -> {
            try (PreparedStatement s = prepare(c, sql, repository, after == null ? "" : after, limit);
                 ResultSet rows = s.executeQuery()) {
                List<TagSummary> found = new ArrayList<>();
                while (rows.next()) {
                    found.add(new TagSummary(rows.getString(9), manifestFrom(rows), rows.getLong(11),
                            Instant.ofEpochMilli(rows.getLong(10))));
                }
                return found;
            }
        });
    }

    @Override
    public List<String> tagsOf(String repository, Digest manifest, int limit) {
        return db.read(c -> strings(c, "SELECT name FROM tags WHERE repository = ? AND digest = ? ORDER BY name LIMIT ?",
                repository, manifest.toString(), limit));
    }

    @Override
    public List<ManifestRecord> untagged(String repository, int limit) {
        String sql = "SELECT " + MANIFEST_COLUMNS + " FROM manifests m WHERE repository = ? AND subject IS NULL"
                + " AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.repository = m.repository AND t.digest = m.digest)"
                + " AND NOT EXISTS (SELECT 1 FROM manifest_references r WHERE r.repository = m.repository"
                + "   AND r.target = m.digest AND r.kind = 'MANIFEST')"
                + " ORDER BY pushed_at DESC, digest LIMIT ?";
        return db.read(c -> {
            try (PreparedStatement s = prepare(c, sql, repository, limit); ResultSet rows = s.executeQuery()) {
                List<ManifestRecord> result = new ArrayList<>();
                while (rows.next()) {
                    result.add(manifestFrom(rows));
                }
                return result;
            }
        });
    }

    @Override
    public OptionalLong imageBytes(String repository, Digest manifest) {
        String sql = "SELECT m.size + " + BLOB_BYTES.formatted("m")
                + " + (SELECT COALESCE(SUM(c.size + " + BLOB_BYTES.formatted("c") + "), 0) FROM manifest_references x"
                + "   JOIN manifests c ON c.repository = x.repository AND c.digest = x.target"
                + "   WHERE x.repository = m.repository AND x.manifest = m.digest AND x.kind = 'MANIFEST')"
                + " FROM manifests m WHERE m.repository = ? AND m.digest = ?";
        return db.read(c -> {
            try (PreparedStatement s = prepare(c, sql, repository, manifest.toString()); ResultSet rows = s.executeQuery()) {
                return rows.next() ? OptionalLong.of(rows.getLong(1)) : OptionalLong.empty();
            }
        });
    }

    @Override
    public OptionalLong linkedBlobSize(String repository, Digest digest) {
        return db.readCached("link", repository, digest.toString(), c -> linkedSize(c, repository, digest));
    }

    @Override
    public void linkBlob(String repository, Digest digest, long size) {
        db.write(c -> {
            link(c, repository, digest, size);
            return null;
        });
    }

    @Override
    public List<String> repositoriesLinking(Digest digest) {
        return db.read(c -> strings(c,
                "SELECT repository FROM repository_blobs WHERE digest = ? ORDER BY repository LIMIT ?",
                digest.toString(), 1000));
    }

    @Override
    public boolean mountBlob(String target, String source, Digest digest) {
        return db.write(c -> {
            OptionalLong size = linkedSize(c, source, digest);
            if (size.isEmpty()) {
                return false;
            }
            link(c, target, digest, size.getAsLong());
            return true;
        });
    }

    @Override
    public Removal unlinkBlob(String repository, Digest digest) {
        return db.write(c -> {
            if (linkedSize(c, repository, digest).isEmpty()) {
                return Removal.NOT_FOUND;
            }
            // A manifest that uses the blob does not stop the delete: the spec allows only 202, 404 or 405 here,
            // and the registry does what it was asked (as distribution does); pulls of that manifest then miss it.
            // Its own bytes are another matter: they go with the manifest, by deleting the manifest.
            if (exists(c, "SELECT 1 FROM manifests WHERE repository = ? AND digest = ?", repository, digest.toString())) {
                return Removal.inUse("the manifest " + digest + " itself");
            }
            update(c, "DELETE FROM repository_blobs WHERE repository = ? AND digest = ?", repository, digest.toString());
            pruneRepository(c, repository);
            return Removal.REMOVED;
        });
    }

    @Override
    public Optional<ManifestRecord> manifest(String repository, Digest digest) {
        return db.readCached("manifest", repository, digest.toString(), c -> manifestRow(c, "SELECT "
                + MANIFEST_COLUMNS + " FROM manifests WHERE repository = ? AND digest = ?", repository, digest.toString()));
    }

    @Override
    public Optional<ManifestRecord> taggedManifest(String repository, String tag) {
        return db.readCached("tag", repository, tag, c -> manifestRow(c, "SELECT m.repository, m.digest, m.media_type, m.size, m.artifact_type,"
                + " m.subject, m.annotations, m.pushed_at FROM tags t JOIN manifests m"
                + " ON m.repository = t.repository AND m.digest = t.digest"
                + " WHERE t.repository = ? AND t.name = ?", repository, tag));
    }

    @Override
    public void checkReferences(String repository, List<ManifestReference> references) {
        db.read(c -> {
            for (ManifestReference reference : references) {
                if (reference.required()) {
                    checkReference(c, repository, reference);
                }
            }
            return null;
        });
    }

    @Override
    public void putManifest(ManifestRecord m, List<ManifestReference> references, List<String> tags,
                            BiConsumer<String, Digest> tagCheck) {
        long now = clock.millis();
        db.write(c -> {
            for (ManifestReference reference : references) {
                if (reference.required()) {
                    checkReference(c, m.repository(), reference);
                }
            }
            link(c, m.repository(), m.digest(), m.size());
            // The same bytes pushed again keep their row as first stored: a re-push (which needs only create) must
            // not change how an existing manifest is served, not even its Content-Type. Only its push time moves:
            // an untagged manifest pushed again (a child before its index) is as young as that push for gcDelay.
            update(c, "INSERT INTO manifests (" + MANIFEST_COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                            + " ON CONFLICT (repository, digest) DO UPDATE SET pushed_at = CASE"
                            + " WHEN excluded.pushed_at > manifests.pushed_at THEN excluded.pushed_at ELSE manifests.pushed_at END",
                    m.repository(), m.digest().toString(), m.mediaType(), m.size(), m.artifactType(),
                    m.subject() == null ? null : m.subject().toString(),
                    m.annotations().isEmpty() ? null : toJson(m.annotations()), m.pushedAt().toEpochMilli());
            for (ManifestReference reference : references) {
                update(c, "INSERT INTO manifest_references (repository, manifest, target, kind) VALUES (?, ?, ?, ?)"
                                + " ON CONFLICT (repository, manifest, target) DO NOTHING",
                        m.repository(), m.digest().toString(), reference.digest().toString(), reference.kind().name());
            }
            for (String tag : tags) {
                Optional<String> current = firstString(c, "SELECT digest FROM tags WHERE repository = ? AND name = ?",
                        m.repository(), tag);
                tagCheck.accept(tag, current.map(Digest::parse).orElse(null));
                update(c, "INSERT INTO tags (repository, name, digest, updated_at) VALUES (?, ?, ?, ?)"
                                + " ON CONFLICT (repository, name) DO UPDATE SET digest = excluded.digest,"
                                + " updated_at = excluded.updated_at",
                        m.repository(), tag, m.digest().toString(), now);
            }
            return null;
        });
    }

    private static void checkReference(Connection c, String repository, ManifestReference reference)
            throws SQLException {
        OptionalLong size = reference.kind() == ManifestReference.Kind.MANIFEST
                ? firstLong(c, "SELECT size FROM manifests WHERE repository = ? AND digest = ?",
                        repository, reference.digest().toString())
                : linkedSize(c, repository, reference.digest());
        if (size.isEmpty()) {
            String what = reference.kind() == ManifestReference.Kind.MANIFEST ? "manifest " : "blob ";
            throw RegistryException.of(ErrorCode.MANIFEST_BLOB_UNKNOWN,
                    what + reference.digest() + " is not in this repository; push it before the manifest");
        }
        if (size.getAsLong() != reference.size()) {
            throw RegistryException.of(ErrorCode.MANIFEST_INVALID, "descriptor of " + reference.digest() + " says "
                    + reference.size() + " bytes but the registry holds " + size.getAsLong());
        }
    }

    @Override
    public Removal deleteManifest(String repository, Digest digest) {
        return db.write(c -> {
            String d = digest.toString();
            if (!exists(c, "SELECT 1 FROM manifests WHERE repository = ? AND digest = ?", repository, d)) {
                return Removal.NOT_FOUND;
            }
            Optional<String> parent = firstString(c, "SELECT manifest FROM manifest_references"
                    + " WHERE repository = ? AND target = ? AND kind = 'MANIFEST' LIMIT 1", repository, d);
            if (parent.isPresent()) {
                return Removal.inUse("index " + parent.get());
            }
            update(c, "DELETE FROM tags WHERE repository = ? AND digest = ?", repository, d);
            update(c, "DELETE FROM manifest_references WHERE repository = ? AND manifest = ?", repository, d);
            update(c, "DELETE FROM manifests WHERE repository = ? AND digest = ?", repository, d);
            if (!exists(c, "SELECT 1 FROM manifest_references WHERE repository = ? AND target = ?", repository, d)) {
                update(c, "DELETE FROM repository_blobs WHERE repository = ? AND digest = ?", repository, d);
            }
            pruneRepository(c, repository);
            return Removal.REMOVED;
        });
    }

    @Override
    public boolean deleteTag(String repository, String tag) {
        return db.write(c -> update(c, "DELETE FROM tags WHERE repository = ? AND name = ?", repository, tag) > 0);
    }

    @Override
    public List<String> tags(String repository, String after, int limit) {
        return db.read(c -> strings(c, "SELECT name FROM tags WHERE repository = ? AND name > ? ORDER BY name LIMIT ?",
                repository, after == null ? "" : after, limit));
    }

    @Override
    public List<ManifestRecord> referrers(String repository, Digest subject, String artifactType) {
        String sql = "SELECT " + MANIFEST_COLUMNS + " FROM manifests WHERE repository = ? AND subject = ?"
                + (artifactType == null ? "" : " AND artifact_type = ?") + " ORDER BY pushed_at, digest";
        return db.read(c -> {
            try (PreparedStatement s = prepare(c, sql, artifactType == null
                    ? new Object[] {repository, subject.toString()}
                    : new Object[] {repository, subject.toString(), artifactType});
                 ResultSet rows = s.executeQuery()) {
                List<ManifestRecord> result = new ArrayList<>();
                while (rows.next()) {
                    result.add(manifestFrom(rows));
                }
                return result;
            }
        });
    }

    @Override
    public Optional<Instant> mirrorChecked(String repository, String tag) {
        return db.read(c -> {
            OptionalLong at = firstLong(c, "SELECT checked_at FROM mirror_checks WHERE repository = ? AND tag = ?", repository, tag);
            return at.isPresent() ? Optional.of(Instant.ofEpochMilli(at.getAsLong())) : Optional.empty();
        });
    }

    @Override
    public void markMirrorChecked(String repository, String tag, Instant at) {
        // Forgotten in a crash, a check is only made again.
        db.writeEphemeral(c -> update(c, "INSERT INTO mirror_checks (repository, tag, checked_at) VALUES (?, ?, ?)"
                + " ON CONFLICT (repository, tag) DO UPDATE SET checked_at = excluded.checked_at", repository, tag, at.toEpochMilli()));
    }

    @Override
    public void createUpload(UploadRecord upload) {
        // A session a crash takes back is one its client opens again; its file was never fsynced either.
        db.writeEphemeral(c -> update(c, "INSERT INTO uploads (id, repository, algorithm, owner, started_at) VALUES (?, ?, ?, ?, ?)",
                upload.id(), upload.repository(), upload.algorithm().label(), upload.owner(), upload.startedAt().toEpochMilli()));
    }

    @Override
    public Optional<UploadRecord> upload(String id) {
        return db.read(c -> {
            try (PreparedStatement s = prepare(c, "SELECT id, repository, algorithm, owner, started_at FROM uploads WHERE id = ?", id);
                 ResultSet rows = s.executeQuery()) {
                if (!rows.next()) {
                    return Optional.empty();
                }
                return Optional.of(new UploadRecord(rows.getString(1), rows.getString(2),
                        DigestAlgorithm.fromLabel(rows.getString(3)).orElseThrow(), rows.getString(4),
                        Instant.ofEpochMilli(rows.getLong(5))));
            }
        });
    }

    @Override
    public void completeUpload(String id, String repository, Digest digest, long size) {
        db.write(c -> {
            link(c, repository, digest, size);
            update(c, "DELETE FROM uploads WHERE id = ?", id);
            return null;
        });
    }

    @Override
    public void deleteUpload(String id) {
        // Brought back by a crash, a session finds its file gone and is deleted again.
        db.writeEphemeral(c -> update(c, "DELETE FROM uploads WHERE id = ?", id));
    }

    // --- access: users, API keys, sessions, login attempts ---------------------------------------------------

    @Override
    public void saveUser(User user) {
        db.write(c -> update(c, "INSERT INTO users (name, account, groups_json, last_login_at) VALUES (?, ?, ?, ?)"
                        + " ON CONFLICT (name, account) DO UPDATE SET groups_json = excluded.groups_json,"
                        + " last_login_at = excluded.last_login_at",
                user.name(), user.account(), toJson(List.copyOf(user.groups())), user.lastLogin().toEpochMilli()));
    }

    @Override
    public Optional<User> user(String name, String account) {
        return db.read(c -> {
            try (PreparedStatement s = prepare(c, "SELECT name, account, groups_json, last_login_at FROM users"
                    + " WHERE name = ? AND account = ?", name, account);
                 ResultSet rows = s.executeQuery()) {
                if (!rows.next()) {
                    return Optional.empty();
                }
                return Optional.of(new User(rows.getString(1), rows.getString(2), Set.copyOf(listFromJson(rows.getString(3))),
                        Instant.ofEpochMilli(rows.getLong(4))));
            }
        });
    }

    private static final String KEY_COLUMNS =
            "id, secret_hash, owner, owner_account, label, scopes_json, created_at, expires_at, last_used_at, creator_ua";

    @Override
    public void addApiKey(ApiKey key) {
        db.write(c -> update(c, "INSERT INTO api_keys (" + KEY_COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                key.id(), key.secretHash(), key.owner(), key.ownerAccount(), key.label(), toJson(key.scopes()),
                key.createdAt().toEpochMilli(),
                key.expiresAt() == null ? null : key.expiresAt().toEpochMilli(),
                key.lastUsedAt() == null ? null : key.lastUsedAt().toEpochMilli(), key.creatorUserAgent()));
    }

    @Override
    public Optional<ApiKey> apiKeyByHash(String secretHash) {
        return db.read(c -> keys(c, "SELECT " + KEY_COLUMNS + " FROM api_keys WHERE secret_hash = ?", secretHash)
                .stream().findFirst());
    }

    @Override
    public List<ApiKey> apiKeys(String owner) {
        return db.read(c -> keys(c, "SELECT " + KEY_COLUMNS + " FROM api_keys WHERE owner = ? ORDER BY created_at, id", owner));
    }

    @Override
    public List<ApiKey> allApiKeys() {
        return db.read(c -> keys(c, "SELECT " + KEY_COLUMNS + " FROM api_keys ORDER BY owner, created_at, id"));
    }

    @Override
    public boolean deleteApiKey(String owner, String id) {
        return db.write(c -> update(c, "DELETE FROM api_keys WHERE owner = ? AND id = ?", owner, id) > 0);
    }

    @Override
    public int deleteApiKeys(String owner) {
        return db.write(c -> update(c, "DELETE FROM api_keys WHERE owner = ?", owner));
    }

    @Override
    public void touchApiKey(String id, Instant usedAt) {
        // A last-used time a crash takes back is only a little older than it should be.
        db.writeEphemeral(c -> update(c, "UPDATE api_keys SET last_used_at = ? WHERE id = ?", usedAt.toEpochMilli(), id));
    }

    private static List<ApiKey> keys(Connection c, String sql, Object... args) throws SQLException {
        try (PreparedStatement s = prepare(c, sql, args); ResultSet rows = s.executeQuery()) {
            List<ApiKey> result = new ArrayList<>();
            while (rows.next()) {
                long expires = rows.getLong(8);
                boolean neverExpires = rows.wasNull();
                long used = rows.getLong(9);
                boolean neverUsed = rows.wasNull();
                result.add(new ApiKey(rows.getString(1), rows.getString(2), rows.getString(3), rows.getString(4),
                        rows.getString(5), listFromJson(rows.getString(6)), Instant.ofEpochMilli(rows.getLong(7)),
                        neverExpires ? null : Instant.ofEpochMilli(expires), neverUsed ? null : Instant.ofEpochMilli(used),
                        rows.getString(10)));
            }
            return result;
        }
    }

    @Override
    public void addSession(Session session) {
        db.write(c -> update(c, "INSERT INTO sessions (token_hash, username, account, provider, groups_json, csrf_token,"
                        + " created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                session.tokenHash(), session.username(), session.account(), session.provider(),
                toJson(List.copyOf(session.groups())), session.csrfToken(), session.createdAt().toEpochMilli(),
                session.expiresAt().toEpochMilli()));
    }

    @Override
    public Optional<Session> session(String tokenHash) {
        return db.read(c -> {
            try (PreparedStatement s = prepare(c, "SELECT token_hash, username, account, provider, groups_json, csrf_token,"
                    + " created_at, expires_at FROM sessions WHERE token_hash = ?", tokenHash);
                 ResultSet rows = s.executeQuery()) {
                if (!rows.next()) {
                    return Optional.empty();
                }
                return Optional.of(new Session(rows.getString(1), rows.getString(2), rows.getString(3), rows.getString(4),
                        Set.copyOf(listFromJson(rows.getString(5))), rows.getString(6),
                        Instant.ofEpochMilli(rows.getLong(7)), Instant.ofEpochMilli(rows.getLong(8))));
            }
        });
    }

    @Override
    public void deleteSession(String tokenHash) {
        db.write(c -> update(c, "DELETE FROM sessions WHERE token_hash = ?", tokenHash));
    }

    @Override
    public int deleteExpired(Instant now, Instant loginAttemptsBefore) {
        return db.write(c -> update(c, "DELETE FROM sessions WHERE expires_at <= ?", now.toEpochMilli())
                + update(c, "DELETE FROM login_attempts WHERE created_at < ?", loginAttemptsBefore.toEpochMilli()));
    }

    @Override
    public void addLoginAttempt(LoginAttempt a) {
        db.write(c -> update(c, "INSERT INTO login_attempts (state_hash, provider, nonce, code_verifier, return_to, created_at)"
                        + " VALUES (?, ?, ?, ?, ?, ?)", a.stateHash(), a.provider(), a.nonce(), a.codeVerifier(), a.returnTo(),
                a.createdAt().toEpochMilli()));
    }

    @Override
    public Optional<LoginAttempt> takeLoginAttempt(String stateHash) {
        return db.write(c -> {
            Optional<LoginAttempt> found;
            try (PreparedStatement s = prepare(c, "SELECT state_hash, provider, nonce, code_verifier, return_to, created_at"
                    + " FROM login_attempts WHERE state_hash = ?", stateHash); ResultSet rows = s.executeQuery()) {
                found = rows.next()
                        ? Optional.of(new LoginAttempt(rows.getString(1), rows.getString(2), rows.getString(3),
                                rows.getString(4), rows.getString(5), Instant.ofEpochMilli(rows.getLong(6))))
                        : Optional.empty();
            }
            update(c, "DELETE FROM login_attempts WHERE state_hash = ?", stateHash);
            return found;
        });
    }

    private static List<String> listFromJson(String json) {
        if (json == null) {
            return List.of();
        }
        try {
            return JSON.readValue(json, STRING_LIST);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("stored list is not valid JSON", e);
        }
    }

    @Override
    public void close() {
        db.close();
    }

    // --- shared statements, always run inside a read or a write -------------------------------------------

    private void link(Connection c, String repository, Digest digest, long size) throws SQLException {
        long now = clock.millis();
        update(c, "INSERT INTO repositories (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                repository, now);
        update(c, "INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, ?) ON CONFLICT (digest) DO NOTHING",
                digest.toString(), size, now);
        update(c, "INSERT INTO repository_blobs (repository, digest, linked_at) VALUES (?, ?, ?)"
                + " ON CONFLICT (repository, digest) DO UPDATE SET linked_at = excluded.linked_at",
                repository, digest.toString(), now);
    }

    private static OptionalLong linkedSize(Connection c, String repository, Digest digest) throws SQLException {
        return firstLong(c, "SELECT b.size FROM repository_blobs r JOIN blobs b ON b.digest = r.digest"
                + " WHERE r.repository = ? AND r.digest = ?", repository, digest.toString());
    }

    /** A repository exists while it holds anything; manifests are linked too, so links are the whole story. */
    private static void pruneRepository(Connection c, String repository) throws SQLException {
        if (!exists(c, "SELECT 1 FROM repository_blobs WHERE repository = ?", repository)) {
            update(c, "DELETE FROM repositories WHERE name = ?", repository);
        }
    }

    private static Optional<ManifestRecord> manifestRow(Connection c, String sql, Object... args) throws SQLException {
        try (PreparedStatement s = prepare(c, sql, args); ResultSet rows = s.executeQuery()) {
            return rows.next() ? Optional.of(manifestFrom(rows)) : Optional.empty();
        }
    }

    private static ManifestRecord manifestFrom(ResultSet rows) throws SQLException {
        String subject = rows.getString(6);
        String annotations = rows.getString(7);
        return new ManifestRecord(rows.getString(1), Digest.parse(rows.getString(2)), rows.getString(3),
                rows.getLong(4), rows.getString(5), subject == null ? null : Digest.parse(subject),
                annotations == null ? Map.of() : fromJson(annotations), Instant.ofEpochMilli(rows.getLong(8)));
    }

    private static PreparedStatement prepare(Connection c, String sql, Object... args) throws SQLException {
        PreparedStatement statement = c.prepareStatement(sql);
        try {
            for (int i = 0; i < args.length; i++) {
                statement.setObject(i + 1, args[i]);
            }
            return statement;
        } catch (SQLException e) {
            statement.close();
            throw e;
        }
    }

    private static int update(Connection c, String sql, Object... args) throws SQLException {
        try (PreparedStatement s = prepare(c, sql, args)) {
            return s.executeUpdate();
        }
    }

    private static boolean exists(Connection c, String sql, Object... args) throws SQLException {
        try (PreparedStatement s = prepare(c, sql, args); ResultSet rows = s.executeQuery()) {
            return rows.next();
        }
    }

    private static OptionalLong firstLong(Connection c, String sql, Object... args) throws SQLException {
        try (PreparedStatement s = prepare(c, sql, args); ResultSet rows = s.executeQuery()) {
            return rows.next() ? OptionalLong.of(rows.getLong(1)) : OptionalLong.empty();
        }
    }

    private static Optional<String> firstString(Connection c, String sql, Object... args) throws SQLException {
        try (PreparedStatement s = prepare(c, sql, args); ResultSet rows = s.executeQuery()) {
            return rows.next() ? Optional.of(rows.getString(1)) : Optional.empty();
        }
    }

    private static List<String> strings(Connection c, String sql, Object... args) throws SQLException {
        try (PreparedStatement s = prepare(c, sql, args); ResultSet rows = s.executeQuery()) {
            List<String> result = new ArrayList<>();
            while (rows.next()) {
                result.add(rows.getString(1));
            }
            return result;
        }
    }

    private static String toJson(Object value) {
        try {
            return JSON.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a map of strings always serialises", e);
        }
    }

    private static Map<String, String> fromJson(String json) {
        try {
            return JSON.readValue(json, STRING_MAP);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("stored annotations are not valid JSON", e);
        }
    }
}
