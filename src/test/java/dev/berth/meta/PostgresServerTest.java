package dev.berth.meta;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.berth.Berth;
import dev.berth.config.BerthConfig;
import dev.berth.testing.LogCapture;
import dev.berth.testing.RegistryClient;
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
}
