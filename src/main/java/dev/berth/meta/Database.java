package dev.berth.meta;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.io.Closeable;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import javax.sql.DataSource;
import org.sqlite.SQLiteConfig;
import org.sqlite.SQLiteDataSource;

/**
 * Connections and transactions. SQLite allows one writer at a time, so writes go through a single connection
 * (a pool of one: callers queue for it) while reads use a pool of their own; both see one WAL database.
 */
final class Database implements Closeable {
    private final HikariDataSource writer;
    private final HikariDataSource readers;
    private final ReadCache cache = new ReadCache();

    private Database(HikariDataSource writer, HikariDataSource readers) {
        this.writer = writer;
        this.readers = readers;
    }

    /** An embedded SQLite database in {@code file}, durable on every commit (WAL, synchronous=FULL). */
    static Database sqlite(Path file, int readConnections) {
        HikariDataSource writer = pool("berth-sqlite-writer", sqliteSource(file), 1, null);
        try {
            // query_only rather than SQLite's read-only open flag, which the pool would try to reset.
            HikariDataSource readers = pool("berth-sqlite-readers", sqliteSource(file), readConnections,
                    "PRAGMA query_only = 1");
            return new Database(writer, readers);
        } catch (RuntimeException e) {
            writer.close();
            throw e;
        }
    }

    private static DataSource sqliteSource(Path file) {
        SQLiteConfig config = new SQLiteConfig();
        config.setJournalMode(SQLiteConfig.JournalMode.WAL);
        config.setSynchronous(SQLiteConfig.SynchronousMode.FULL);
        config.setBusyTimeout(30_000);
        SQLiteDataSource source = new SQLiteDataSource(config);
        source.setUrl("jdbc:sqlite:" + file.toAbsolutePath());
        return source;
    }

    private static HikariDataSource pool(String name, DataSource source, int size, String initSql) {
        HikariConfig config = new HikariConfig();
        config.setConnectionInitSql(initSql);
        config.setPoolName(name);
        config.setDataSource(source);
        config.setMaximumPoolSize(size);
        config.setMinimumIdle(1);
        config.setConnectionTimeout(60_000);
        // SQLite connections are local files: they never go stale, so keep them for the process's life.
        config.setMaxLifetime(0);
        config.setIdleTimeout(0);
        return new HikariDataSource(config);
    }

    interface Work<T> {
        T run(Connection connection) throws SQLException;
    }

    /** Runs read-only work on a pooled connection. */
    <T> T read(Work<T> work) {
        try (Connection connection = readers.getConnection()) {
            return work.run(connection);
        } catch (SQLException e) {
            throw new MetadataException("metadata read failed", e);
        }
    }

    /**
     * A read whose answer is kept until the next write ({@link ReadCache}); {@code what}, {@code repository}
     * and {@code key} name the question.
     */
    <T> T readCached(String what, String repository, String key, Work<T> work) {
        return cache.get(what, repository, key, () -> read(work));
    }

    /** Runs work in one transaction: committed if it returns, rolled back if it throws. */
    <T> T write(Work<T> work) {
        return transaction(work, true);
    }

    /** Runs work in one transaction that is always rolled back: what the work would do, without doing it. */
    <T> T trial(Work<T> work) {
        return transaction(work, false);
    }

    private <T> T transaction(Work<T> work, boolean keep) {
        try (Connection connection = writer.getConnection()) {
            connection.setAutoCommit(false);
            try {
                T result = work.run(connection);
                if (keep) {
                    connection.commit();
                } else {
                    connection.rollback();
                }
                return result;
            } catch (SQLException | RuntimeException | Error e) {
                connection.rollback();
                throw e;
            } finally {
                connection.setAutoCommit(true);
                cache.written();
            }
        } catch (SQLException e) {
            throw new MetadataException("metadata write failed", e);
        }
    }

    @Override
    public void close() {
        readers.close();
        writer.close();
    }
}
