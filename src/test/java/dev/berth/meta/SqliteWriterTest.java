package dev.berth.meta;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Group commit on SQLite's single writer: shared commits, isolated failures, nothing returned before it is durable. */
class SqliteWriterTest {
    @TempDir
    Path root;

    private final AtomicInteger commits = new AtomicInteger();
    private final AtomicInteger afterCommits = new AtomicInteger();
    private SqliteWriter writer;
    private Connection reader;
    private final ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();

    @BeforeEach
    void open() throws SQLException {
        try (Connection raw = DriverManager.getConnection(url()); var s = raw.createStatement()) {
            s.execute("PRAGMA journal_mode = WAL");
            s.execute("CREATE TABLE t (k TEXT PRIMARY KEY)");
        }
        writer = new SqliteWriter(() -> countingCommits(DriverManager.getConnection(url())), afterCommits::incrementAndGet);
        reader = DriverManager.getConnection(url());
    }

    private String url() {
        return "jdbc:sqlite:" + root.resolve("t.db");
    }

    @AfterEach
    void close() throws SQLException {
        threads.shutdownNow();
        writer.close();
        reader.close();
    }

    @Test
    void writersThatQueueBehindOneShareItsNextCommit() throws Exception {
        CountDownLatch holding = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Future<?> first = threads.submit(() -> writer.write(c -> {
            insert(c, "first");
            holding.countDown();
            await(release);
            return null;
        }, true, true));
        holding.await();
        List<Future<?>> queued = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            String key = "queued-" + i;
            queued.add(threads.submit(() -> writer.write(c -> insert(c, key), true, true)));
        }
        waitUntilQueued(5);
        release.countDown();
        first.get(10, TimeUnit.SECONDS);
        for (Future<?> f : queued) {
            f.get(10, TimeUnit.SECONDS);
        }

        assertThat(rows()).isEqualTo(6);
        assertThat(commits.get()).as("six works, one commit").isEqualTo(1);
        assertThat(afterCommits.get()).isEqualTo(1);
    }

    @Test
    void aWriteReturnsOnlyOnceItsRowIsCommitted() throws Exception {
        List<Future<Integer>> checks = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            String key = "k" + i;
            checks.add(threads.submit(() -> {
                writer.write(c -> insert(c, key), true, true);
                return count("SELECT COUNT(*) FROM t WHERE k = '" + key + "'");
            }));
        }
        for (Future<Integer> check : checks) {
            assertThat(check.get(10, TimeUnit.SECONDS)).isEqualTo(1);
        }
        assertThat(commits.get()).isBetween(1, 40);
    }

    @Test
    void aFailingWorkIsUndoneAloneAndTheOthersInItsCommitStay() throws Exception {
        CountDownLatch holding = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Future<?> first = threads.submit(() -> writer.write(c -> {
            insert(c, "a");
            holding.countDown();
            await(release);
            return null;
        }, true, true));
        holding.await();
        Future<?> failing = threads.submit(() -> writer.write(c -> {
            insert(c, "half-done");
            return insert(c, "a"); // a duplicate key: the whole work must go, including its first row
        }, true, true));
        waitUntilQueued(1);
        Future<?> trial = threads.submit(() -> writer.write(c -> insert(c, "only-tried"), false, true));
        waitUntilQueued(2);
        Future<?> last = threads.submit(() -> writer.write(c -> insert(c, "b"), true, true));
        waitUntilQueued(3);
        release.countDown();

        first.get(10, TimeUnit.SECONDS);
        last.get(10, TimeUnit.SECONDS);
        trial.get(10, TimeUnit.SECONDS);
        assertThatThrownBy(() -> failing.get(10, TimeUnit.SECONDS)).hasCauseInstanceOf(MetadataException.class);
        assertThat(count("SELECT COUNT(*) FROM t WHERE k IN ('a', 'b')")).isEqualTo(2);
        assertThat(count("SELECT COUNT(*) FROM t WHERE k IN ('half-done', 'only-tried')")).isZero();
        assertThat(commits.get()).isEqualTo(1);
    }

    @Test
    void aCommitThatFailsFailsEveryWorkInItAndTheNextWriteStartsAfresh() throws Exception {
        writer.close();
        AtomicInteger opened = new AtomicInteger();
        // The first connection fails its commit the way a full disk does: SQLite has already rolled the
        // transaction back by itself, so the driver's idea of it is wrong from then on.
        writer = new SqliteWriter(() -> {
            Connection raw = DriverManager.getConnection(url());
            if (opened.incrementAndGet() > 1) {
                return raw;
            }
            return (Connection) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {Connection.class},
                    (proxy, method, args) -> {
                        if (method.getName().equals("setAutoCommit") && Boolean.TRUE.equals(args[0])) {
                            try (var s = raw.createStatement()) {
                                s.execute("ROLLBACK");
                            }
                            throw new SQLException("database or disk is full");
                        }
                        return invoke(raw, method, args);
                    });
        }, afterCommits::incrementAndGet);

        assertThatThrownBy(() -> writer.write(c -> insert(c, "lost"), true, true))
                .isInstanceOf(MetadataException.class).hasRootCauseMessage("database or disk is full");
        assertThat(count("SELECT COUNT(*) FROM t")).isZero();

        writer.write(c -> insert(c, "kept"), true, true);
        writer.write(c -> insert(c, "kept too"), true, true);
        assertThat(count("SELECT COUNT(*) FROM t")).isEqualTo(2);
        assertThat(opened.get()).as("a fresh connection after the failure").isEqualTo(2);
    }

    @Test
    void closingWithWritersWaitingForTheirCommitTellsThemItFailed() throws Exception {
        CountDownLatch holding = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Future<?> first = threads.submit(() -> writer.write(c -> {
            insert(c, "first");
            holding.countDown();
            await(release);
            return null;
        }, true, true));
        holding.await();
        Future<?> second = threads.submit(() -> writer.write(c -> insert(c, "second"), true, true));
        waitUntilQueued(1);
        Future<?> closing = threads.submit(() -> {
            writer.close();
            return null;
        });
        waitUntilQueued(2);
        release.countDown();

        closing.get(10, TimeUnit.SECONDS);
        assertThatThrownBy(() -> first.get(10, TimeUnit.SECONDS)).hasCauseInstanceOf(MetadataException.class);
        assertThatThrownBy(() -> second.get(10, TimeUnit.SECONDS)).hasCauseInstanceOf(MetadataException.class);
        assertThatThrownBy(() -> writer.write(c -> insert(c, "late"), true, true)).isInstanceOf(MetadataException.class);
        assertThat(count("SELECT COUNT(*) FROM t")).isZero();
    }

    @Test
    void aCallerHearsOfItsCommitOnlyAfterCachedReadsAreStale() throws Exception {
        writer.close();
        java.util.concurrent.atomic.AtomicBoolean stale = new java.util.concurrent.atomic.AtomicBoolean();
        writer = new SqliteWriter(() -> DriverManager.getConnection(url()), () -> {
            sleep(200); // a slow invalidation: whoever returns meanwhile could read the cache's old answer
            stale.set(true);
        });
        CountDownLatch holding = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Future<Boolean> first = threads.submit(() -> {
            writer.write(c -> {
                insert(c, "first");
                holding.countDown();
                await(release);
                return null;
            }, true, true);
            return stale.get();
        });
        holding.await();
        Future<?> last = threads.submit(() -> writer.write(c -> insert(c, "last"), true, true)); // commits for both
        waitUntilQueued(1);
        release.countDown();

        last.get(10, TimeUnit.SECONDS);
        assertThat(first.get(10, TimeUnit.SECONDS)).as("cached reads were stale when the write returned").isTrue();
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void anEphemeralWriteCommitsWithoutWaitingForTheDiskAndADurableOneStillDoes() throws Exception {
        // synchronous: 1 is NORMAL (a WAL commit without fsync), 2 is FULL (fsync on every commit).
        assertThat((int) writer.write(c -> synchronous(c, "durable"), true, true)).isEqualTo(2);
        assertThat((int) writer.write(c -> synchronous(c, "ephemeral"), true, false)).isEqualTo(1);
        assertThat(count("SELECT COUNT(*) FROM t WHERE k = 'ephemeral'")).as("visible once it returns").isEqualTo(1);
        assertThat((int) writer.write(c -> synchronous(c, "durable again"), true, true)).isEqualTo(2);
        assertThat(rows()).isEqualTo(3);
    }

    @Test
    void aDurableWriteThatFindsAnEphemeralBatchOpenCommitsItFirstAndFsyncsItsOwn() throws Exception {
        CountDownLatch holding = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Future<Integer> ephemeral = threads.submit(() -> writer.write(c -> {
            int level = synchronous(c, "ephemeral");
            holding.countDown();
            await(release);
            return level;
        }, true, false));
        holding.await();
        Future<Integer> durable = threads.submit(() -> writer.write(c -> synchronous(c, "durable"), true, true));
        waitUntilQueued(1);
        Future<Integer> joining = threads.submit(() -> writer.write(c -> synchronous(c, "joins the durable"), true, false));
        waitUntilQueued(2);
        release.countDown();

        assertThat(ephemeral.get(10, TimeUnit.SECONDS)).isEqualTo(1);
        assertThat(durable.get(10, TimeUnit.SECONDS)).as("never inside a commit without fsync").isEqualTo(2);
        assertThat(joining.get(10, TimeUnit.SECONDS)).as("an ephemeral work may share a durable commit").isEqualTo(2);
        assertThat(commits.get()).isEqualTo(2);
        assertThat(rows()).isEqualTo(3);
    }

    /** Inserts {@code key} and answers the connection's synchronous level during the work. */
    private static int synchronous(Connection c, String key) throws SQLException {
        insert(c, key);
        try (var s = c.createStatement(); var r = s.executeQuery("PRAGMA synchronous")) {
            r.next();
            return r.getInt(1);
        }
    }

    @Test
    void aWriteInsideAnotherOnTheSameThreadIsRefused() {
        assertThatThrownBy(() -> writer.write(c -> writer.write(inner -> insert(inner, "inner"), true, true), true, true))
                .isInstanceOf(IllegalStateException.class);
    }

    private Connection countingCommits(Connection raw) {
        return (Connection) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {Connection.class},
                (proxy, method, args) -> {
                    // The writer commits by returning to auto-commit, which SQLite's driver does with one COMMIT.
                    if (method.getName().equals("setAutoCommit") && Boolean.TRUE.equals(args[0])) {
                        commits.incrementAndGet();
                    }
                    return invoke(raw, method, args);
                });
    }

    private static Object invoke(Connection target, java.lang.reflect.Method method, Object[] args) throws Throwable {
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    private void waitUntilQueued(int n) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (writer.queued() < n) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("expected " + n + " writers queued, have " + writer.queued());
            }
            Thread.sleep(1);
        }
    }

    private static Integer insert(Connection c, String key) throws SQLException {
        try (var s = c.prepareStatement("INSERT INTO t (k) VALUES (?)")) {
            s.setString(1, key);
            return s.executeUpdate();
        }
    }

    private int rows() throws SQLException {
        return count("SELECT COUNT(*) FROM t");
    }

    private int count(String sql) throws SQLException {
        try (var s = reader.createStatement(); var rows = s.executeQuery(sql)) {
            rows.next();
            return rows.getInt(1);
        }
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }
}
