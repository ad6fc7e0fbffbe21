package dev.berth.meta;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.io.Closeable;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.postgresql.ds.PGSimpleDataSource;
import org.sqlite.SQLiteConfig;
import org.sqlite.SQLiteDataSource;

/**
 * Connections and transactions. SQLite allows one writer at a time, so writes go through a single connection
 * ({@link SqliteWriter}: callers queue for it and share commits) while reads use a pool of their own; both see
 * one WAL database.
 * PostgreSQL takes writers side by side, so there every write transaction is SERIALIZABLE and is run again
 * when PostgreSQL reports a conflict: each transaction then behaves as if it had run alone, which is what the
 * rules written for SQLite's single writer (tag immutability, links checked before a delete) rely on.
 */
final class Database implements Closeable {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Database.class);
    /**
     * Advisory locks use PostgreSQL's two-key form: a class of Berth's own, and the name's hash within it, so
     * that no name a client chooses (a digest) can hash onto the nodes' registration or a lease.
     */
    static final int NODES = 0x42520001;
    static final int LEASES = 0x42520002;
    static final int BLOBS = 0x42520003;

    /** How long a write keeps retrying serialization conflicts before it gives up. */
    private static final long RETRY_FOR_NANOS = TimeUnit.SECONDS.toNanos(30);

    /** PostgreSQL's pool for writes (the same as for reads); null on SQLite. */
    private final HikariDataSource writer;
    /** SQLite's single writer; null on PostgreSQL. */
    private SqliteWriter sqliteWriter;
    private final HikariDataSource readers;
    private final boolean serializable;
    private final ReadCache cache = new ReadCache();
    /**
     * Whether this process is the database's only writer, so that its own writes are all there is to invalidate
     * the read cache: SQLite (the data directory's lock), or PostgreSQL once {@link #claim}ed. Nodes that share a
     * database read every answer from it, so that a push on one is pulled from another at once.
     */
    private volatile boolean alone;
    /** Connections that hold PostgreSQL advisory locks for nodes sharing the database; null elsewhere. */
    private HikariDataSource lockPool;
    private PGSimpleDataSource source;
    private PGSimpleDataSource probe;
    private Connection claim;
    private boolean claimExclusive;
    private volatile boolean claimLost;

    private Database(HikariDataSource writer, HikariDataSource readers, boolean serializable) {
        this.writer = writer;
        this.readers = readers;
        this.serializable = serializable;
        this.alone = !serializable;
    }

    /** An embedded SQLite database in {@code file}, durable on every commit (WAL, synchronous=FULL). */
    static Database sqlite(Path file, int readConnections) {
        // query_only rather than SQLite's read-only open flag, which the pool would try to reset.
        HikariDataSource readers = pool("berth-sqlite-readers", sqliteSource(file), readConnections,
                "PRAGMA query_only = 1");
        Database database = new Database(null, readers, false);
        database.sqliteWriter = new SqliteWriter(sqliteSource(file)::getConnection, database.cache::written);
        return database;
    }

    /**
     * A PostgreSQL server at a JDBC URL ({@code jdbc:postgresql://host:port/database}); reads and writes share
     * one pool of {@code connections}. The password may be null when the URL or the server needs none.
     */
    static Database postgres(String url, String user, String password, int connections) {
        PGSimpleDataSource source = new PGSimpleDataSource();
        source.setUrl(url);
        if (user != null) {
            source.setUser(user);
        }
        if (password != null) {
            source.setPassword(password);
        }
        source.setApplicationName("berth");
        source.setTcpKeepAlive(true);
        HikariConfig config = poolConfig("berth-postgres", source, connections, null);
        config.setMinimumIdle(Math.min(2, connections));
        // A server's connections can be cut by it, by a proxy or by a failover: let the pool renew them.
        config.setMaxLifetime(TimeUnit.MINUTES.toMillis(30));
        config.setIdleTimeout(TimeUnit.MINUTES.toMillis(10));
        // An unreachable server fails a request within seconds rather than holding it.
        config.setConnectionTimeout(10_000);
        HikariDataSource pool;
        try {
            pool = new HikariDataSource(config);
        } catch (RuntimeException e) {
            throw unreachable(url, e);
        }
        Database database = new Database(pool, pool, true);
        database.source = source;
        database.probe = probe(url, user, password);
        // A lock waited for longer than a minute fails its request instead of holding it for ever.
        HikariConfig locks = poolConfig("berth-postgres-locks", source, connections, "SET lock_timeout = '60s'");
        locks.setMinimumIdle(0);
        locks.setMaxLifetime(TimeUnit.MINUTES.toMillis(30));
        locks.setIdleTimeout(TimeUnit.MINUTES.toMillis(1));
        database.lockPool = new HikariDataSource(locks);
        return database;
    }

    /** A data source for readiness probes: a fresh connection that gives up within two seconds. */
    private static PGSimpleDataSource probe(String url, String user, String password) {
        PGSimpleDataSource probe = new PGSimpleDataSource();
        probe.setUrl(url);
        if (user != null) {
            probe.setUser(user);
        }
        if (password != null) {
            probe.setPassword(password);
        }
        probe.setApplicationName("berth-readiness");
        probe.setConnectTimeout(2);
        probe.setLoginTimeout(2);
        probe.setSocketTimeout(2);
        return probe;
    }

    /** Whether the database answers now, within about two seconds; for readiness probes. */
    boolean reachable() {
        if (probe == null) {
            return read(c -> c.isValid(2));
        }
        if (claimLost || !claimHeld()) {
            return false;
        }
        try (Connection c = probe.getConnection()) {
            return c.isValid(2);
        } catch (SQLException e) {
            return false;
        }
    }

    /**
     * Registers this process on the database until {@link #close}, on a connection of its own: {@code alone} for a
     * node whose blobs are on its own disk (a second node on the same rows would see manifests whose bytes it
     * does not have, as the lock file guards a data directory), shared for nodes of a cluster, which share the
     * bucket too. Either kind refuses the other. On SQLite the data directory's lock does this already.
     */
    void claim(boolean exclusive) {
        if (source == null || claim != null) {
            return;
        }
        claim = takeClaim(exclusive);
        claimExclusive = exclusive;
        alone = exclusive;
    }

    private Connection takeClaim(boolean exclusive) {
        try {
            Connection connection = source.getConnection();
            try (var s = connection.prepareStatement(exclusive ? "SELECT pg_try_advisory_lock(?, 0)"
                    : "SELECT pg_try_advisory_lock_shared(?, 0)")) {
                s.setInt(1, NODES);
                try (var rows = s.executeQuery()) {
                    rows.next();
                    if (!rows.getBoolean(1)) {
                        connection.close();
                        throw new InUseException(exclusive);
                    }
                }
            }
            return connection;
        } catch (SQLException e) {
            throw unreachable(source.getUrl(), e);
        }
    }

    /** Whether this node's registration is still held (its connection alive); true where there is none. */
    private synchronized boolean claimHeld() {
        try {
            return claim == null || claim.isValid(2);
        } catch (SQLException e) {
            return false;
        }
    }

    /**
     * Takes the registration again if its connection was lost (PostgreSQL restarted, a failover): the server
     * forgot it with the connection. If a process of the other kind took the database meanwhile, this one is no
     * longer ready (see {@link #reachable}) and says why. Run every few seconds.
     */
    synchronized void renewClaim() {
        if (claim == null || claimLost) {
            return;
        }
        try {
            if (claim.isValid(2)) {
                return;
            }
        } catch (SQLException e) {
            // treated as lost
        }
        try {
            claim.close();
        } catch (SQLException ignored) {
            // already gone
        }
        try {
            claim = takeClaim(claimExclusive);
            LOG.info("registered on the database again after its connection was lost");
        } catch (InUseException e) {
            claimLost = true;
            LOG.error("lost this node's registration on the database while it was unreachable, and {}; this node"
                    + " reports itself not ready until restarted", e.getMessage());
        } catch (MetadataException e) {
            LOG.warn("cannot register on the database again yet: {}", e.getMessage());
        }
    }

    /** Why the server could not be used, in the driver's words; the URL without its query, which may hold a password. */
    private static MetadataException unreachable(String url, Exception e) {
        Throwable cause = e;
        while (cause.getCause() != null && !(cause instanceof SQLException)) {
            cause = cause.getCause();
        }
        int query = url.indexOf('?');
        return new MetadataException("cannot connect to PostgreSQL at " + (query < 0 ? url : url.substring(0, query))
                + ": " + cause.getMessage() + " (check storage.database: url, user, and password or"
                + " BERTH_DATABASE_PASSWORD)", e);
    }

    /** Thrown when another Berth process holds the database. */
    static final class InUseException extends IllegalStateException {
        InUseException(boolean exclusive) {
            super(exclusive
                    ? "another Berth process is using this PostgreSQL database: nodes share a database only when they"
                    + " share an S3 bucket too (storage.storageDriver); stop it first, or point this one at another database"
                    : "a Berth process with its blobs on its own disk is using this PostgreSQL database: stop it before"
                    + " starting nodes that share the database and an S3 bucket");
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
        HikariConfig config = poolConfig(name, source, size, initSql);
        // SQLite connections are local files: they never go stale, so keep them for the process's life.
        config.setMaxLifetime(0);
        config.setIdleTimeout(0);
        return new HikariDataSource(config);
    }

    private static HikariConfig poolConfig(String name, DataSource source, int size, String initSql) {
        HikariConfig config = new HikariConfig();
        config.setConnectionInitSql(initSql);
        config.setPoolName(name);
        config.setDataSource(source);
        config.setMaximumPoolSize(size);
        config.setMinimumIdle(1);
        config.setConnectionTimeout(60_000);
        return config;
    }

    /**
     * Runs {@code work} while no other process runs work under the same {@code name} on this database (a
     * PostgreSQL advisory lock, held on a connection of its own and released with it); on SQLite, whose file
     * one process holds, it simply runs.
     */
    <T> T exclusively(String name, java.util.function.Supplier<T> work) {
        if (!serializable) {
            return work.get();
        }
        try (Held held = advisory(LEASES, name, true).orElseThrow()) {
            return work.get();
        }
    }

    /** A lock held until closed. */
    interface Held extends AutoCloseable {
        @Override
        void close();
    }

    /**
     * Waits for and holds the lock {@code name} shared by every process on this database (a PostgreSQL advisory
     * lock on a connection of its own), until closed. Where this process is the only one, it holds nothing: the
     * process's own locks suffice.
     */
    Held lock(int kind, String name) {
        if (alone) {
            return () -> { };
        }
        return advisory(kind, name, true).orElseThrow();
    }

    /** Like {@link #lock}, but only if no other process holds it now; empty if one does. */
    java.util.Optional<Held> tryLock(int kind, String name) {
        if (alone) {
            return java.util.Optional.of(() -> { });
        }
        return advisory(kind, name, false);
    }

    private java.util.Optional<Held> advisory(int kind, String name, boolean wait) {
        try {
            Connection connection = lockPool.getConnection();
            try (var take = connection.prepareStatement(wait ? "SELECT pg_advisory_lock(?, hashtext(?))"
                    : "SELECT pg_try_advisory_lock(?, hashtext(?))")) {
                take.setInt(1, kind);
                take.setString(2, name);
                try (var rows = take.executeQuery()) {
                    rows.next();
                    if (!wait && !rows.getBoolean(1)) {
                        connection.close();
                        return java.util.Optional.empty();
                    }
                }
            } catch (SQLException | RuntimeException e) {
                connection.close();
                throw e;
            }
            return java.util.Optional.of(() -> {
                try (var release = connection.prepareStatement("SELECT pg_advisory_unlock(?, hashtext(?))")) {
                    release.setInt(1, kind);
                    release.setString(2, name);
                    release.execute();
                    connection.close();
                } catch (SQLException e) {
                    // Never back into the pool still holding the lock: closed for good, its session's locks go too.
                    lockPool.evictConnection(connection);
                }
            });
        } catch (SQLException e) {
            throw new MetadataException("cannot take the database lock " + name, e);
        }
    }

    /** The SQL dialect's name, as migrations written for one dialect only are filed: sqlite or postgresql. */
    String dialect() {
        return serializable ? "postgresql" : "sqlite";
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
        return alone ? cache.get(what, repository, key, () -> read(work)) : read(work);
    }

    /** Runs work in one transaction: committed, and durable, if it returns; rolled back if it throws. */
    <T> T write(Work<T> work) {
        return transaction(work, true, true);
    }

    /**
     * Like {@link #write}, for state a crash may take back (an upload session just opened, which its client then
     * opens again): on return it is committed and every reader sees it, but the commit did not wait for the disk.
     * It becomes durable with the next durable commit, which the log orders after it, or soon after on its own.
     */
    <T> T writeEphemeral(Work<T> work) {
        return transaction(work, true, false);
    }

    /** Runs work in one transaction that is always rolled back: what the work would do, without doing it. */
    <T> T trial(Work<T> work) {
        return transaction(work, false, true);
    }

    private <T> T transaction(Work<T> work, boolean keep, boolean durable) {
        if (sqliteWriter != null) {
            return sqliteWriter.write(work, keep, durable);
        }
        long deadline = System.nanoTime() + RETRY_FOR_NANOS;
        for (int attempt = 1; ; attempt++) {
            try {
                return attempt(work, keep, durable);
            } catch (MetadataException e) {
                if (!serializable || !isConflict(e.getCause()) || System.nanoTime() > deadline) {
                    throw e;
                }
                pause(attempt);
            }
        }
    }

    /** PostgreSQL's "could not serialize access" and deadlock: the transaction did nothing and may run again. */
    private static boolean isConflict(Throwable cause) {
        return cause instanceof SQLException sql
                && ("40001".equals(sql.getSQLState()) || "40P01".equals(sql.getSQLState()));
    }

    /** Backs off a little more after each conflict, at random, so that rivals stop meeting each other. */
    private static void pause(int attempt) {
        long most = Math.min(200, 2L << Math.min(attempt, 7));
        try {
            Thread.sleep(ThreadLocalRandom.current().nextLong(1, most + 1));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MetadataException("interrupted while retrying a metadata write", e);
        }
    }

    private <T> T attempt(Work<T> work, boolean keep, boolean durable) {
        try (Connection connection = writer.getConnection()) {
            if (serializable) {
                connection.setTransactionIsolation(Connection.TRANSACTION_SERIALIZABLE);
            }
            connection.setAutoCommit(false);
            try {
                if (!durable) {
                    try (var statement = connection.createStatement()) {
                        statement.execute("SET LOCAL synchronous_commit = off"); // this transaction only
                    }
                }
                T result = work.run(connection);
                if (keep) {
                    connection.commit();
                } else {
                    connection.rollback();
                }
                return result;
            } catch (SQLException e) {
                connection.rollback();
                throw new MetadataException("metadata write failed", e);
            } catch (RuntimeException | Error e) {
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
        if (writer != null && writer != readers) {
            writer.close();
        }
        if (sqliteWriter != null) {
            sqliteWriter.close();
        }
        if (lockPool != null) {
            lockPool.close();
        }
        if (claim != null) {
            try {
                claim.close();
            } catch (SQLException ignored) {
                // the server releases the claim with the connection either way
            }
        }
    }
}
