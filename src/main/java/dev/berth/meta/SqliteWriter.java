package dev.berth.meta;

import java.io.Closeable;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * SQLite's one writer, with group commit. Callers take turns on a single connection; each caller's work runs in a
 * savepoint of its own inside a transaction that stays open while others wait for their turn, and the last of
 * them commits it. The work of every caller that queued during one commit's fsync thus shares the next fsync:
 * under concurrent pushes the disk's flushes, not a queue of callers each waiting for its own, set the pace.
 * A work that fails is rolled back to its savepoint and leaves the others untouched; no caller returns before
 * the commit that holds its changes is durable, and a commit that fails fails every work in it. A work that need
 * not survive a crash (an upload session just opened) may ask for a commit that is only visible: a batch of such
 * works alone commits without an fsync (synchronous=NORMAL), becoming durable with the next durable commit, which
 * writes the same log after it; a durable work that finds such a batch open commits it first. After any
 * failure to begin, undo or commit, the connection is closed (SQLite rolls back what it held) and the next
 * turn opens a fresh one: a full disk, once freed, leaves nothing behind in an unknown state.
 */
final class SqliteWriter implements Closeable {
    /** At most this many works share a commit, so that a steady stream of writers still commits regularly. */
    private static final int MOST_PER_COMMIT = 64;
    /** As long as a caller waits for its turn before it is told the database is busy. */
    private static final long TURN_WAIT_SECONDS = 60;

    /** Opens a connection to the database file. */
    interface Opener {
        Connection open() throws SQLException;
    }

    private final Opener opener;
    /** Run after every commit, succeeded or not, before any caller hears of it: cached reads are stale from then on. */
    private final Runnable afterCommit;
    /** Fair, so that the callers of a batch keep their order and none is overtaken for ever. */
    private final ReentrantLock turn = new ReentrantLock(true);
    /** Guarded by {@link #turn}: the connection (null until needed again after a failure), the open transaction. */
    private Connection connection;
    /** Guarded by {@link #turn}: whether the connection's commits fsync now; null until set on a new connection. */
    private Boolean syncing;
    private Batch open;
    private boolean closed;

    /** One transaction's works, told together whether it was committed (durably, unless none asked for it). */
    private static final class Batch {
        final CompletableFuture<Void> committed = new CompletableFuture<>();
        /** Whether the commit fsyncs: false only for a batch of works that need not survive a crash. */
        final boolean durable;
        int works;
        /** Set when a failed work could not be undone: the transaction is then rolled back whole. */
        MetadataException broken;

        Batch(boolean durable) {
            this.durable = durable;
        }
    }

    SqliteWriter(Opener opener, Runnable afterCommit) {
        this.opener = opener;
        this.afterCommit = afterCommit;
    }

    /**
     * Runs work in the next commit and returns once that commit is durable, or with {@code durable} false once it
     * is visible to readers; {@code keep} false rolls it back.
     */
    <T> T write(Database.Work<T> work, boolean keep, boolean durable) {
        if (turn.isHeldByCurrentThread()) {
            // The inner write would commit the outer one's half-done changes, or wait for a commit only this
            // thread can make.
            throw new IllegalStateException("a metadata write inside another on the same thread");
        }
        takeTurn();
        T result;
        Batch joined = null;
        try {
            if (open != null && durable && !open.durable) {
                commit(); // those before it were content without an fsync; this one is not
            }
            if (open == null) {
                begin(durable);
            }
            Savepoint savepoint = savepoint();
            try {
                result = work.run(connection);
            } catch (SQLException e) {
                rollback(savepoint);
                throw new MetadataException("metadata write failed", e);
            } catch (RuntimeException | Error e) {
                rollback(savepoint);
                throw e;
            }
            if (keep) {
                release(savepoint);
                joined = open;
                joined.works++;
            } else {
                rollback(savepoint);
            }
        } finally {
            try {
                // The last in line commits; so does whoever fills the batch, or finds it broken.
                if (open != null && (!turn.hasQueuedThreads() || open.works >= MOST_PER_COMMIT || open.broken != null)) {
                    commit();
                }
            } finally {
                turn.unlock();
            }
        }
        if (joined != null) {
            try {
                joined.committed.join();
            } catch (CompletionException e) {
                throw e.getCause() instanceof MetadataException m ? m
                        : new MetadataException("metadata write failed", e.getCause());
            }
        }
        return result;
    }

    /** How many callers wait for their turn; for tests. */
    int queued() {
        return turn.getQueueLength();
    }

    private void takeTurn() {
        try {
            if (!turn.tryLock(TURN_WAIT_SECONDS, TimeUnit.SECONDS)) {
                // Whoever left the turn just as this wait ran out may have seen this caller queued and left the
                // commit to it: if the turn is free now, the open batch is committed before giving up.
                if (turn.tryLock()) {
                    try {
                        if (open != null && !closed) {
                            commit();
                        }
                    } finally {
                        turn.unlock();
                    }
                }
                throw new MetadataException("the database stayed busy for " + TURN_WAIT_SECONDS + " s", null);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MetadataException("interrupted while waiting to write metadata", e);
        }
        if (closed) {
            turn.unlock();
            throw new MetadataException("the database is closed", null);
        }
    }

    private void begin(boolean durable) {
        try {
            if (connection == null) {
                connection = opener.open();
                syncing = null;
            }
            if (!Boolean.valueOf(durable).equals(syncing)) {
                // Outside any transaction: SQLite refuses to change it inside one.
                try (var statement = connection.createStatement()) {
                    statement.execute(durable ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
                }
                syncing = durable;
            }
            connection.setAutoCommit(false);
        } catch (SQLException e) {
            discardConnection();
            throw new MetadataException("cannot begin a metadata write", e);
        }
        open = new Batch(durable);
    }

    private void commit() {
        Batch batch = open;
        open = null;
        Throwable failure = batch.broken;
        if (failure == null) {
            try {
                if (batch.works == 0) {
                    connection.rollback();
                }
                connection.setAutoCommit(true); // COMMIT, and nothing else: its success is the works' success
            } catch (Throwable e) {
                failure = e;
            }
        }
        if (failure != null) {
            discardConnection();
        }
        try {
            afterCommit.run();
        } finally {
            if (failure == null) {
                batch.committed.complete(null);
            } else {
                batch.committed.completeExceptionally(failure instanceof MetadataException m ? m
                        : new MetadataException("metadata write failed", failure));
                if (failure instanceof Error error) {
                    throw error;
                }
            }
        }
    }

    /** Closes the connection in whatever state it is in; SQLite rolls back a transaction it held. */
    private void discardConnection() {
        if (connection != null) {
            try {
                connection.close();
            } catch (SQLException ignored) {
                // it is being given up either way
            }
            connection = null;
        }
    }

    private Savepoint savepoint() {
        try {
            return connection.setSavepoint();
        } catch (SQLException e) {
            open.broken = new MetadataException("metadata write failed", e);
            throw open.broken;
        }
    }

    private void release(Savepoint savepoint) {
        try {
            connection.releaseSavepoint(savepoint);
        } catch (SQLException e) {
            open.broken = new MetadataException("metadata write failed", e);
            throw open.broken;
        }
    }

    private void rollback(Savepoint savepoint) {
        try {
            connection.rollback(savepoint);
            connection.releaseSavepoint(savepoint);
        } catch (SQLException e) {
            // The transaction is in an unknown state: it ends at once, failing every work that shares it.
            open.broken = new MetadataException("cannot undo a failed metadata write", e);
            throw open.broken;
        }
    }

    /** Fails the transaction still open, if any (its callers hear so), and refuses writes from now on. */
    @Override
    public void close() {
        turn.lock();
        try {
            closed = true;
            if (open != null) {
                open.broken = new MetadataException("the database closed before this write was committed", null);
                commit();
            }
            discardConnection();
        } finally {
            turn.unlock();
        }
    }
}
