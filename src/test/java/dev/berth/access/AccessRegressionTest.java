package dev.berth.access;

import static org.assertj.core.api.Assertions.assertThat;

import at.favre.lib.crypto.bcrypt.BCrypt;
import dev.berth.Berth;
import dev.berth.config.AccessControlConfig;
import dev.berth.config.AccessControlConfig.Grant;
import dev.berth.config.AccessControlConfig.RepositoryPolicy;
import dev.berth.config.AuthConfig;
import dev.berth.config.BerthConfig;
import dev.berth.testing.Command;
import dev.berth.testing.LogCapture;
import dev.berth.testing.RegistryClient;
import dev.berth.testing.RegistryClient.Response;
import dev.berth.testing.TestImages;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Holes a security review found in access control, each pinned by the test that would have caught it. */
class AccessRegressionTest {
    private static final Set<String> ALL = Set.of("read", "create", "update", "delete");

    @TempDir
    Path dir;

    private Path htpasswd(String... userPasswordPairs) throws Exception {
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < userPasswordPairs.length; i += 2) {
            text.append(userPasswordPairs[i]).append(':').append(BCrypt.with(BCrypt.Version.VERSION_2Y)
                    .hashToString(5, userPasswordPairs[i + 1].toCharArray())).append('\n');
        }
        return Files.writeString(dir.resolve("htpasswd"), text);
    }

    private BerthConfig config(Path htpasswd, Map<String, Set<String>> groups) {
        AuthConfig auth = new AuthConfig(htpasswd, null, true, Map.of(), List.of(), Duration.ZERO, null, null, null,
                AuthConfig.DEFAULT_SESSION_TTL);
        AccessControlConfig accessControl = new AccessControlConfig(Map.of("private/**", new RepositoryPolicy(List.of(
                new Grant(Set.of(), Set.of("ci"), Set.of("read", "create")),
                new Grant(Set.of("alice"), Set.of(), Set.of("read"))), Set.of(), Set.of())),
                new Grant(Set.of("admin"), Set.of(), ALL), groups, null);
        BerthConfig defaults = BerthConfig.defaults();
        return new BerthConfig(new BerthConfig.Storage(dir.resolve("data")),
                defaults.http().withPort(0).withAccess(auth, accessControl), defaults.log());
    }

    private static String key(RegistryClient owner) {
        Response r = owner.post("/zot/auth/apikey", "{\"label\":\"k\"}".getBytes());
        assertThat(r.status()).as(r.text()).isEqualTo(201);
        return r.json().path("apiKey").asText();
    }

    @Test
    void aKeyLosesAGroupWhenItsOwnerDoes() throws Exception {
        Path users = htpasswd("robot", "robot-pw", "admin", "admin-pw");
        String secret;
        try (Berth berth = Berth.start(config(users, Map.of("ci", Set.of("robot"))))) {
            RegistryClient client = new RegistryClient(berth.uri());
            secret = key(client.as("robot", "robot-pw"));
            assertThat(client.as("robot", secret).post("/v2/private/app/blobs/uploads/", new byte[0]).status()).isEqualTo(202);
        }
        try (Berth berth = Berth.start(config(users, Map.of("ci", Set.of("nobody"))))) {
            RegistryClient client = new RegistryClient(berth.uri());
            assertThat(client.as("robot", secret).post("/v2/private/app/blobs/uploads/", new byte[0]).status()).isEqualTo(403);
            assertThat(client.as("robot", secret).get("/v2/private/app/tags/list").status()).isEqualTo(403);
        }
    }

    @Test
    void aUserRemovedFromTheFileLosesTheirKeys() throws Exception {
        Path users = htpasswd("alice", "alice-pw", "admin", "admin-pw");
        try (Berth berth = Berth.start(config(users, Map.of()))) {
            RegistryClient client = new RegistryClient(berth.uri());
            String secret = key(client.as("alice", "alice-pw"));
            assertThat(client.as("alice", secret).get("/v2/private/app/tags/list").status()).isIn(200, 404);
            htpasswd("admin", "admin-pw");
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            int status;
            do {
                Thread.sleep(200);
                status = client.as("alice", secret).get("/v2/private/app/tags/list").status();
            } while (status != 401 && System.nanoTime() < deadline);
            assertThat(status).isEqualTo(401);
        }
    }

    @Test
    void headOnAnUploadIsAStatusCheckNeverACancel() throws Exception {
        try (Berth berth = Berth.start(config(htpasswd("admin", "admin-pw", "alice", "alice-pw"), Map.of()))) {
            RegistryClient admin = new RegistryClient(berth.uri()).as("admin", "admin-pw");
            String location = admin.post("/v2/private/app/blobs/uploads/", new byte[0]).header("Location");
            admin.patch(location, "hello".getBytes());
            Response head = admin.head(location);
            assertThat(head.status()).isEqualTo(204);
            assertThat(head.header("Range")).isEqualTo("0-4");
            assertThat(new RegistryClient(berth.uri()).as("alice", "alice-pw").head(location).status())
                    .as("another user does not even see it").isEqualTo(404);
            assertThat(admin.get(location).header("Range")).as("still there").isEqualTo("0-4");
        }
    }

    @Test
    void anUploadSessionBelongsToWhoeverOpenedIt() throws Exception {
        try (Berth berth = Berth.start(config(htpasswd("admin", "admin-pw", "robot", "robot-pw"),
                Map.of("ci", Set.of("robot"))))) {
            RegistryClient admin = new RegistryClient(berth.uri()).as("admin", "admin-pw");
            RegistryClient robot = new RegistryClient(berth.uri()).as("robot", "robot-pw");
            String location = admin.post("/v2/private/app/blobs/uploads/", new byte[0]).header("Location");
            assertThat(robot.patch(location, "poison".getBytes()).status()).isEqualTo(404);
            assertThat(robot.delete(location).status()).isEqualTo(403);
            byte[] content = "mine".getBytes();
            admin.patch(location, content);
            assertThat(admin.put(location + "?digest=" + TestImages.sha256(content), new byte[0]).status()).isEqualTo(201);
        }
    }

    @Test
    void longPasswordsAreCutAt72BytesAsHtpasswdDoesNeverA500() throws Exception {
        Command.assumeInstalled("htpasswd");
        String longPassword = "p".repeat(100);
        Path users = dir.resolve("htpasswd");
        Command.ok(dir, Map.of(), List.of("htpasswd", "-B", "-b", "-c", users.toString(), "longpw", longPassword));
        try (Berth berth = Berth.start(config(users, Map.of()));
             LogCapture log = new LogCapture()) {
            RegistryClient client = new RegistryClient(berth.uri());
            assertThat(client.as("longpw", longPassword).get("/zot/auth/apikey").status()).isEqualTo(200);
            assertThat(client.as("nobody", "x".repeat(200)).get("/zot/auth/apikey").status()).isEqualTo(401);
            assertThat(log.errors()).isEmpty();
        }
    }

    @Test
    void keyRequestsAreReadStrictly() throws Exception {
        try (Berth berth = Berth.start(config(htpasswd("alice", "alice-pw"), Map.of()))) {
            RegistryClient alice = new RegistryClient(berth.uri()).as("alice", "alice-pw");
            assertThat(alice.post("/zot/auth/apikey", "{\"expirationDate\":\"+999999999-12-31T23:59:59Z\"}".getBytes()).status())
                    .isEqualTo(400);
            assertThat(alice.post("/zot/auth/apikey", "{\"scopes\":[\"public/**\"],\"scopes\":[]}".getBytes()).status())
                    .as("two values for one key are not for the parser to choose between").isEqualTo(400);
        }
    }

    @Test
    void theAccessLogCannotBeForged() throws Exception {
        try (Berth berth = Berth.start(config(htpasswd("alice", "alice-pw"), Map.of()));
             LogCapture log = new LogCapture()) {
            new RegistryClient(berth.uri()).get("/v2/", "User-Agent", "x\" 200 99 \"forged");
            Thread.sleep(100);
            assertThat(log.all()).anySatisfy(line -> assertThat(line).contains("x\\\" 200 99 \\\"forged"));
        }
    }
}
