package dev.berth.meta;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.berth.Berth;
import dev.berth.config.BerthConfig;
import dev.berth.testing.LogCapture;
import dev.berth.testing.RegistryClient;
import dev.berth.testing.RegistryClient.Response;
import dev.berth.testing.TcpProxy;
import dev.berth.testing.TestImages;
import dev.berth.testing.TestPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Berth itself on PostgreSQL: configured by storage.database, restarted, and alone on its database. */
class PostgresServerTest {
    @TempDir
    Path dir;

    private static BerthConfig config(Path root, String url, String password) {
        BerthConfig defaults = BerthConfig.defaults();
        return new BerthConfig(new BerthConfig.Storage(root).withDatabase(
                new BerthConfig.Database(url, TestPostgres.user(), password, 8)), defaults.http().withPort(0), defaults.log());
    }

    @Test
    void imagesPushedOnPostgresAreServedAfterARestartAndNoRowsAreInTheDataDirectory() throws Exception {
        String url = TestPostgres.newDatabase();
        TestImages.Image image = TestImages.image(2, 4096);
        try (Berth berth = Berth.start(config(dir.resolve("data"), url, TestPostgres.password()))) {
            new RegistryClient(berth.uri()).push("pg/app", "v1", image);
        }
        assertThat(dir.resolve("data/berth.db")).doesNotExist();
        try (Berth berth = Berth.start(config(dir.resolve("data"), url, TestPostgres.password()))) {
            RegistryClient client = new RegistryClient(berth.uri());
            assertThat(client.get("/v2/pg/app/manifests/v1", "Accept", image.mediaType()).body()).isEqualTo(image.manifest());
            assertThat(client.get("/v2/pg/app/tags/list").json().path("tags").get(0).asText()).isEqualTo("v1");
            assertThat(client.get("/v2/_catalog").json().path("repositories").get(0).asText()).isEqualTo("pg/app");
        }
    }

    @Test
    void aSecondProcessOnTheSameDatabaseIsRefusedUntilTheFirstStops() throws Exception {
        String url = TestPostgres.newDatabase();
        try (Berth first = Berth.start(config(dir.resolve("a"), url, TestPostgres.password()))) {
            assertThatThrownBy(() -> Berth.start(config(dir.resolve("b"), url, TestPostgres.password())))
                    .hasMessageContaining("another Berth process is using this PostgreSQL database");
            assertThat(new RegistryClient(first.uri()).get("/v2/").status()).isEqualTo(200);
        }
        try (Berth second = Berth.start(config(dir.resolve("b"), url, TestPostgres.password()))) {
            assertThat(new RegistryClient(second.uri()).get("/v2/").status()).isEqualTo(200);
        }
    }

    @Test
    void aWrongPasswordStopsTheStartWithTheReasonAndNoSecretInTheLog() throws Exception {
        String url = TestPostgres.newDatabase();
        try (LogCapture log = new LogCapture()) {
            assertThatThrownBy(() -> Berth.start(config(dir.resolve("data"), url, "wrong-password-xyz")))
                    .hasMessageContaining("cannot connect to PostgreSQL")
                    .hasMessageContaining("password authentication failed")
                    .hasMessageNotContaining("wrong-password-xyz");
            assertThat(log.all()).noneMatch(line -> line.contains("wrong-password-xyz"));
        }
        String withPasswordInUrl = url + "?password=" + TestPostgres.password();
        try (LogCapture log = new LogCapture();
             Berth berth = Berth.start(config(dir.resolve("data"), withPasswordInUrl, null))) {
            assertThat(log.all()).anyMatch(line -> line.contains("metadata in PostgreSQL at " + url))
                    .noneMatch(line -> line.contains(TestPostgres.password()));
        }
        assertThat(Files.exists(dir.resolve("data"))).isTrue();
    }

    /** The same database through a cuttable TCP proxy. */
    private static String through(TcpProxy proxy, String url) {
        return url.replaceFirst("127\\.0\\.0\\.1:\\d+", "127.0.0.1:" + proxy.port());
    }

    private static int port(String url) {
        return Integer.parseInt(url.replaceFirst(".*127\\.0\\.0\\.1:(\\d+)/.*", "$1"));
    }

    private static void awaitReady(RegistryClient client, int status) throws InterruptedException {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (client.get("/readyz").status() != status && System.nanoTime() < deadline) {
            Thread.sleep(200);
        }
        assertThat(client.get("/readyz").status()).isEqualTo(status);
    }

    @Test
    void notReadyWhileTheDatabaseIsGoneAndReadyAgainOnceItIsBack() throws Exception {
        String url = TestPostgres.newDatabase();
        try (TcpProxy proxy = new TcpProxy(port(url));
             Berth berth = Berth.start(config(dir.resolve("data"), through(proxy, url), TestPostgres.password()))) {
            RegistryClient client = new RegistryClient(berth.uri());
            assertThat(client.get("/readyz").status()).isEqualTo(200);
            proxy.cut();
            awaitReady(client, 503);
            Response failed = client.get("/v2/pg/app/tags/list");
            assertThat(failed.status()).as("an answer in the spec's format, not a hang").isGreaterThanOrEqualTo(500);
            assertThat(failed.json().path("errors").isArray()).isTrue();
            proxy.restore();
            awaitReady(client, 200); // and registered on the database again
            new RegistryClient(berth.uri()).push("pg/app", "v1", TestImages.image(1, 100));
            assertThatThrownBy(() -> Berth.start(config(dir.resolve("other"), url, TestPostgres.password())))
                    .hasMessageContaining("another Berth process is using this PostgreSQL database");
        }
    }

    @Test
    void aNodeWhoseRegistrationWasTakenWhileTheDatabaseWasAwayStopsBeingReady() throws Exception {
        String url = TestPostgres.newDatabase();
        try (TcpProxy proxy = new TcpProxy(port(url));
             Berth first = Berth.start(config(dir.resolve("a"), through(proxy, url), TestPostgres.password()))) {
            proxy.cut(); // the server ends the first node's sessions, and with them its registration
            Berth second = null;
            long deadline = System.nanoTime() + 20_000_000_000L;
            while (second == null) {
                try {
                    second = Berth.start(config(dir.resolve("b"), url, TestPostgres.password()));
                } catch (RuntimeException stillHeld) {
                    if (System.nanoTime() > deadline) {
                        throw stillHeld;
                    }
                    Thread.sleep(200);
                }
            }
            try (Berth taken = second; LogCapture log = new LogCapture()) {
                proxy.restore();
                RegistryClient client = new RegistryClient(first.uri());
                long until = System.nanoTime() + 30_000_000_000L;
                while (log.errors().isEmpty() && System.nanoTime() < until) {
                    Thread.sleep(200);
                }
                assertThat(log.errors()).anyMatch(line -> line.contains("lost this node's registration"));
                awaitReady(client, 503);
                assertThat(new RegistryClient(taken.uri()).get("/readyz").status()).isEqualTo(200);
            }
        }
    }
}
