package dev.berth.meta;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Versioned schema changes, applied in order at start-up, each in its own transaction, and recorded in
 * {@code schema_migrations}. Hand-written rather than Flyway: a dozen lines do the job, and start-up time and
 * memory matter more for a registry than the features of a migration framework.
 */
final class Migrations {
    private static final Logger LOG = LoggerFactory.getLogger(Migrations.class);

    /**
     * Every migration, oldest first; a file in resources/db/migrations, written in SQL both dialects run, or
     * replaced for one dialect by the file of the same name under resources/db/migrations/&lt;dialect&gt;. Never
     * edit one that has shipped.
     */
    private static final List<String> ALL = List.of("V001__registry.sql", "V002__access.sql", "V003__mirrors.sql",
            "V004__pulls.sql", "V005__byte_order.sql", "V006__store.sql");

    private Migrations() {
    }

    static void apply(Database database, long now) {
        // Nodes started together must not both apply the same migration.
        database.exclusively("berth-migrations", () -> {
            applyAlone(database, now);
            return null;
        });
    }

    private static void applyAlone(Database database, long now) {
        database.write(connection -> {
            try (Statement statement = connection.createStatement()) {
                statement.executeUpdate("CREATE TABLE IF NOT EXISTS schema_migrations ("
                        + "version INTEGER NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL, applied_at BIGINT NOT NULL)");
            }
            return null;
        });
        int current = database.read(connection -> {
            try (Statement statement = connection.createStatement();
                 ResultSet rows = statement.executeQuery("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")) {
                rows.next();
                return rows.getInt(1);
            }
        });
        if (current > ALL.size()) {
            throw new IllegalStateException("the database schema (version " + current
                    + ") is newer than this Berth (version " + ALL.size() + "): run a newer Berth");
        }
        for (int version = current + 1; version <= ALL.size(); version++) {
            String name = ALL.get(version - 1);
            String sql = load(database.dialect(), name);
            int applied = version;
            database.write(connection -> {
                run(connection, sql);
                try (PreparedStatement insert = connection.prepareStatement(
                        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)")) {
                    insert.setInt(1, applied);
                    insert.setString(2, name);
                    insert.setLong(3, now);
                    insert.executeUpdate();
                }
                return null;
            });
            LOG.info("applied database migration {}", name);
        }
    }

    private static void run(Connection connection, String script) throws SQLException {
        StringBuilder statement = new StringBuilder();
        for (String line : script.split("\n")) {
            String trimmed = line.strip();
            if (trimmed.startsWith("--") || trimmed.isEmpty()) {
                continue;
            }
            statement.append(line).append('\n');
            if (trimmed.endsWith(";")) {
                try (Statement s = connection.createStatement()) {
                    s.executeUpdate(statement.toString());
                }
                statement.setLength(0);
            }
        }
    }

    private static String load(String dialect, String name) {
        InputStream own = Migrations.class.getResourceAsStream("/db/migrations/" + dialect + "/" + name);
        try (InputStream in = own != null ? own : Migrations.class.getResourceAsStream("/db/migrations/" + name)) {
            if (in == null) {
                throw new IllegalStateException("migration " + name + " is missing from the build");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read migration " + name, e);
        }
    }
}
