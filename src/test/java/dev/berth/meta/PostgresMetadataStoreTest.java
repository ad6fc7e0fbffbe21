package dev.berth.meta;

import static org.assertj.core.api.Assertions.assertThat;

import dev.berth.oci.Digest;
import dev.berth.testing.TestPostgres;
import java.time.Clock;
import org.junit.jupiter.api.Test;

/** The metadata contract on a real PostgreSQL server (Debian's, started by {@link TestPostgres}). */
class PostgresMetadataStoreTest extends MetadataStoreContract {
    private String url;

    @Override
    protected MetadataStore newStore() {
        if (url == null) {
            url = TestPostgres.newDatabase();
        }
        return JdbcMetadataStore.postgres(url, TestPostgres.user(), TestPostgres.password(), 8, Clock.systemUTC());
    }

    @Test
    void rowsSurviveReconnectingAndMigrationsRunOnce() {
        Digest d = digest("persisted");
        meta.linkBlob("r", d, 9);
        meta.close();
        meta = newStore();
        assertThat(meta.linkedBlobSize("r", d)).hasValue(9);
    }

    @Test
    void twoProcessesSeeEachOthersWrites() {
        MetadataStore other = newStore();
        try {
            Digest d = digest("shared");
            other.linkBlob("shared/repo", d, 5);
            assertThat(meta.linkedBlobSize("shared/repo", d)).hasValue(5);
        } finally {
            other.close();
        }
    }

    @Test
    void onlyOneProcessAtATimeRunsWorkOfAName() throws Exception {
        MetadataStore other = newStore();
        try {
            java.util.concurrent.CountDownLatch inside = new java.util.concurrent.CountDownLatch(1);
            java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
            Thread collecting = Thread.ofVirtual().start(() -> meta.ifAlone("gc", () -> {
                inside.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return "done";
            }));
            inside.await();
            assertThat(other.ifAlone("gc", () -> "ran")).as("another node is collecting").isEmpty();
            assertThat(other.ifAlone("scrub", () -> "ran")).as("another name is free").hasValue("ran");
            release.countDown();
            collecting.join();
            assertThat(other.ifAlone("gc", () -> "ran")).hasValue("ran");
        } finally {
            other.close();
        }
    }

    @Test
    void aBlobsLockKeepsOtherProcessesWaitingUntilReleased() throws Exception {
        MetadataStore other = newStore();
        try {
            Digest d = digest("locked");
            java.util.concurrent.atomic.AtomicBoolean released = new java.util.concurrent.atomic.AtomicBoolean();
            MetadataStore.Held held = meta.lockBlob(d);
            Thread waiter = Thread.ofVirtual().start(() -> {
                try (MetadataStore.Held mine = other.lockBlob(d)) {
                    assertThat(released).as("taken only after the first holder let go").isTrue();
                }
            });
            try (MetadataStore.Held unrelated = other.lockBlob(digest("another blob"))) {
                assertThat(unrelated).isNotNull(); // other blobs are not held up
            }
            Thread.sleep(300);
            assertThat(waiter.isAlive()).isTrue();
            released.set(true);
            held.close();
            waiter.join(10_000);
            assertThat(waiter.isAlive()).isFalse();
        } finally {
            other.close();
        }
    }
}
