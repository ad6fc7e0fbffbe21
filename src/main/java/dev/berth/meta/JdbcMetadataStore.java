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

/** The metadata store on SQL: SQLite embedded by default. */
public final class JdbcMetadataStore implements MetadataStore {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final TypeReference<Map<String, String>> STRING_MAP = new TypeReference<>() {
    };
    private static final String MANIFEST_COLUMNS =
            "repository, digest, media_type, size, artifact_type, subject, annotations, pushed_at";

    private final Database db;
    private final Clock clock;

    private JdbcMetadataStore(Database db, Clock clock) {
        this.db = db;
        this.clock = clock;
    }

    /** Opens (creating and migrating as needed) the SQLite database at {@code file}. */
    public static JdbcMetadataStore sqlite(Path file, Clock clock) {
        Database db = Database.sqlite(file, 8);
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
        return db.read(c -> exists(c, "SELECT 1 FROM repositories WHERE name = ?", repository));
    }

    @Override
    public List<String> repositories(String after, int limit) {
        return db.read(c -> strings(c, "SELECT name FROM repositories WHERE name > ? ORDER BY name LIMIT ?",
                after == null ? "" : after, limit));
    }

    @Override
    public OptionalLong linkedBlobSize(String repository, Digest digest) {
        return db.read(c -> linkedSize(c, repository, digest));
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
            Optional<String> user = firstString(c,
                    "SELECT manifest FROM manifest_references WHERE repository = ? AND target = ? LIMIT 1",
                    repository, digest.toString());
            if (user.isPresent()) {
                return Removal.inUse("manifest " + user.get());
            }
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
        return db.read(c -> manifestRow(c, "SELECT " + MANIFEST_COLUMNS
                + " FROM manifests WHERE repository = ? AND digest = ?", repository, digest.toString()));
    }

    @Override
    public Optional<ManifestRecord> taggedManifest(String repository, String tag) {
        return db.read(c -> manifestRow(c, "SELECT m.repository, m.digest, m.media_type, m.size, m.artifact_type,"
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
    public void putManifest(ManifestRecord m, List<ManifestReference> references, List<String> tags) {
        long now = clock.millis();
        db.write(c -> {
            for (ManifestReference reference : references) {
                if (reference.required()) {
                    checkReference(c, m.repository(), reference);
                }
            }
            link(c, m.repository(), m.digest(), m.size());
            // The same bytes pushed again keep their row, but the latest Content-Type wins (it can only differ
            // for documents without a mediaType field).
            update(c, "INSERT INTO manifests (" + MANIFEST_COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                            + " ON CONFLICT (repository, digest) DO UPDATE SET media_type = excluded.media_type",
                    m.repository(), m.digest().toString(), m.mediaType(), m.size(), m.artifactType(),
                    m.subject() == null ? null : m.subject().toString(),
                    m.annotations().isEmpty() ? null : toJson(m.annotations()), m.pushedAt().toEpochMilli());
            for (ManifestReference reference : references) {
                update(c, "INSERT INTO manifest_references (repository, manifest, target, kind) VALUES (?, ?, ?, ?)"
                                + " ON CONFLICT (repository, manifest, target) DO NOTHING",
                        m.repository(), m.digest().toString(), reference.digest().toString(), reference.kind().name());
            }
            for (String tag : tags) {
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
    public void createUpload(UploadRecord upload) {
        db.write(c -> update(c, "INSERT INTO uploads (id, repository, algorithm, started_at) VALUES (?, ?, ?, ?)",
                upload.id(), upload.repository(), upload.algorithm().label(), upload.startedAt().toEpochMilli()));
    }

    @Override
    public Optional<UploadRecord> upload(String id) {
        return db.read(c -> {
            try (PreparedStatement s = prepare(c, "SELECT id, repository, algorithm, started_at FROM uploads WHERE id = ?", id);
                 ResultSet rows = s.executeQuery()) {
                if (!rows.next()) {
                    return Optional.empty();
                }
                return Optional.of(new UploadRecord(rows.getString(1), rows.getString(2),
                        DigestAlgorithm.fromLabel(rows.getString(3)).orElseThrow(),
                        Instant.ofEpochMilli(rows.getLong(4))));
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
        db.write(c -> update(c, "DELETE FROM uploads WHERE id = ?", id));
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
                + " ON CONFLICT (repository, digest) DO NOTHING", repository, digest.toString(), now);
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

    private static String toJson(Map<String, String> map) {
        try {
            return JSON.writeValueAsString(map);
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
