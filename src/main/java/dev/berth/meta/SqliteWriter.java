package dev.berth.meta;

import java.io.Closeable;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.locks.ReentrantLock;

/**
 * SQLite's one writer, with group commit. Callers take turns on a single connection; each caller's work runs in a
 * savepoint of its own inside a transaction that stays open while others wait for their turn, and the last of
 * them commits it. The work of every caller that queued during one commit's fsync thus shares the next fsync:
 * under concurrent pushes the disk's flushes, not a queue of callers each waiting for its own, set the pace.
 * A work that fails is rolled back to its savepoint and leaves the others untouched; no caller returns before
 * the commit that holds its changes is durable, and a commit that fails fails every work in it.
 */
final class SqliteWriter implements Closeable {
    /** At most this many works share a commit, so that a steady stream of writers still commits regularly. */
    private static final int MOST_PER_COMMIT = 64;

    private final Connection connection;
    /** Run after every commit, whether it succeeded or not: cached reads are stale from then on. */
    private final Runnable afterCommit;
    /** Fair, so that the callers of a batch keep their order and none is overtaken for ever. */
    private final ReentrantLock turn = new ReentrantLock(true);
    /** The transaction the current turn adds to; null between transactions. Guarded by {@link #turn}. */
    private Batch open;

    /** One transaction's works, told together whether it became durable. */
    private static final class Batch {
        final CompletableFuture<Void> durable = new CompletableFuture<>();
        int works;
        /** Set when a failed work could not be undone: the transaction is then rolled back whole. */
        MetadataException broken;
    }

    SqliteWriter(Connection connection, Runnable afterCommit) {
        this.connection = connection;
        this.afterCommit = afterCommit;
    }

    /** Runs work in the next commit and returns once that commit is durable; {@code keep} false rolls it back. */
    <T> T write(Database.Work<T> work, boolean keep) {
        T result;
        Batch joined = null;
        turn.lock();
        try {
            if (open == null) {
                begin();
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
                // The last in line commits; so does whoever fills the batch.
                if (open != null && (!turn.hasQueuedThreads() || open.works >= MOST_PER_COMMIT || open.broken != null)) {
                    commit();
                }
            } finally {
                turn.unlock();
            }
        }
        if (joined != null) {
            try {
                joined.durable.join();
            } catch (CompletionException e) {
                throw (MetadataException) e.getCause();
            }
        }
        return result;
    }

    /** How many callers wait for their turn; for tests. */
    int queued() {
        return turn.getQueueLength();
    }

    private void begin() {
        try {
            connection.setAutoCommit(false);
        } catch (SQLException e) {
            throw new MetadataException("cannot begin a metadata write", e);
        }
        open = new Batch();
    }

    private void commit() {
        Batch batch = open;
        open = null;
        try {
            if (batch.broken != null) {
                throw batch.broken;
            }
            if (batch.works > 0) {
                connection.commit();
            } else {
                connection.rollback();
            }
            connection.setAutoCommit(true);
            batch.durable.complete(null);
        } catch (SQLException | MetadataException e) {
            batch.durable.completeExceptionally(e instanceof MetadataException m ? m
                    : new MetadataException("metadata write failed", e));
            try {
                connection.rollback();
                connection.setAutoCommit(true);
            } catch (SQLException ignored) {
                // the next turn begins a transaction afresh or fails with its own error
            }
        } finally {
            afterCommit.run();
        }
    }

    private Savepoint savepoint() {
        try {
            return connection.setSavepoint();
        } catch (SQLException e) {
            throw new MetadataException("metadata write failed", e);
        }
    }

    private void release(Savepoint savepoint) {
        try {
            connection.releaseSavepoint(savepoint);
        } catch (SQLException e) {
            rollback(savepoint);
            throw new MetadataException("metadata write failed", e);
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

    @Override
    public void close() {
        turn.lock();
        try {
            connection.close();
        } catch (SQLException ignored) {
            // closing a local file's connection: nothing to recover
        } finally {
            turn.unlock();
        }
    }
}
