package dev.berth.access;

import static org.assertj.core.api.Assertions.assertThat;

import at.favre.lib.crypto.bcrypt.BCrypt;
import com.fasterxml.jackson.databind.JsonNode;
import dev.berth.config.AccessControlConfig;
import dev.berth.config.AccessControlConfig.Grant;
import dev.berth.config.AccessControlConfig.RepositoryPolicy;
import dev.berth.config.AuthConfig;
import dev.berth.config.BerthConfig;
import dev.berth.oci.MediaTypes;
import dev.berth.testing.Command;
import dev.berth.testing.LogCapture;
import dev.berth.testing.RegistryClient;
import dev.berth.testing.RegistryClient.Response;
import dev.berth.testing.TestBerth;
import dev.berth.testing.TestImages;
import dev.berth.testing.TestImages.Image;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** htpasswd files as the htpasswd tool writes them, API keys end to end, immutable tags, audit and metrics. */
class PasswordsAndKeysTest {
    private static final Set<String> ALL = Set.of("read", "create", "update", "delete");
    private static final Path HTPASSWD = htpasswdFile();
    private static final Path AUDIT = tempFile("berth-audit", ".log");

    @RegisterExtension
    static final TestBerth BERTH = new TestBerth(c -> {
        AuthConfig auth = new AuthConfig(HTPASSWD, null, true, Map.of(), List.of(), Duration.ofMillis(300), null, null,
                Duration.ofDays(90), AuthConfig.DEFAULT_SESSION_TTL);
        AccessControlConfig accessControl = new AccessControlConfig(Map.of("**", new RepositoryPolicy(List.of(
                new Grant(Set.of(), Set.of("ci"), Set.of("read", "create"))), Set.of("read"), Set.of("read"))),
                new Grant(Set.of("admin"), Set.of(), ALL), Map.of("ci", Set.of("robot", "twin")),
                new AccessControlConfig.MetricsPolicy(Set.of("prometheus"), Set.of()));
        return c.withHttp(c.http().withAccess(auth, accessControl))
                .withLog(new BerthConfig.Log("info", null, AUDIT));
    });

    private static Path tempFile(String prefix, String suffix) {
        try {
            return Files.createTempFile(prefix, suffix);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Users in every bcrypt flavour: $2y$ (htpasswd -B), $2b$ and $2a$. */
    private static Path htpasswdFile() {
        Path file = tempFile("berth-htpasswd", "");
        String text = "admin:" + BCrypt.with(BCrypt.Version.VERSION_2Y).hashToString(5, "admin-pw".toCharArray()) + "\n"
                + "robot:" + BCrypt.with(BCrypt.Version.VERSION_2B).hashToString(5, "robot-pw".toCharArray()) + "\n"
                + "twin:" + BCrypt.with(BCrypt.Version.VERSION_2A).hashToString(5, "twin-pw".toCharArray()) + "\n"
                + "prometheus:" + BCrypt.with(BCrypt.Version.VERSION_2Y).hashToString(5, "scrape".toCharArray()) + "\n"
                + "legacy:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n";
        try {
            Files.writeString(file, text);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return file;
    }

    private static String key(RegistryClient owner, String body) {
        Response r = owner.post("/zot/auth/apikey", body.getBytes(StandardCharsets.UTF_8), "Content-Type", "application/json");
        assertThat(r.status()).as(r.text()).isEqualTo(201);
        return r.json().path("apiKey").asText();
    }

    @Test
    void everyBcryptFlavourSignsIn() {
        for (String[] user : new String[][] {{"admin", "admin-pw"}, {"robot", "robot-pw"}, {"twin", "twin-pw"}}) {
            assertThat(BERTH.client().as(user[0], user[1]).post("/v2/pw/x/blobs/uploads/", new byte[0]).status())
                    .as(user[0]).isEqualTo(202);
        }
        assertThat(BERTH.client().as("legacy", "password").get("/v2/pw/x/tags/list").status())
                .as("non-bcrypt hashes cannot sign in").isEqualTo(401);
    }

    @Test
    void aFileWrittenByHtpasswdIsReadAgainWhenItChanges() throws Exception {
        Command.assumeInstalled("htpasswd");
        Command.ok(HTPASSWD.getParent(), Map.of(), List.of("htpasswd", "-B", "-b", HTPASSWD.toString(), "newcomer", "fresh-pw"));
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        int status;
        do {
            Thread.sleep(200);
            status = BERTH.client().as("newcomer", "fresh-pw").get("/v2/pw/y/tags/list").status();
        } while (status == 401 && System.nanoTime() < deadline);
        assertThat(status).as("newcomer signs in once the file is re-read").isIn(200, 404);
    }

    @Test
    void keysHaveZotsShapesAndAreNeverStoredInTheClear() throws Exception {
        RegistryClient admin = BERTH.client().as("admin", "admin-pw");
        Response created = admin.post("/zot/auth/apikey", "{\"label\":\"laptop\",\"scopes\":[\"pw/**\"]}".getBytes(),
                "User-Agent", "berth-test/1.0");
        assertThat(created.status()).isEqualTo(201);
        JsonNode key = created.json();
        assertThat(key.path("apiKey").asText()).matches("zak_[0-9a-f]{32}");
        assertThat(key.path("label").asText()).isEqualTo("laptop");
        assertThat(key.path("scopes").get(0).asText()).isEqualTo("pw/**");
        assertThat(key.path("generatedBy").asText()).isEqualTo("manual");
        assertThat(key.path("creatorUa").asText()).isEqualTo("berth-test/1.0");
        assertThat(key.path("isExpired").asBoolean()).isFalse();
        assertThat(key.path("lastUsed").asText()).isEqualTo("0001-01-01T00:00:00Z");
        Instant expires = Instant.parse(key.path("expirationDate").asText());
        assertThat(expires).as("the configured maximum lifetime applies").isBetween(
                Instant.now().plus(Duration.ofDays(89)), Instant.now().plus(Duration.ofDays(91)));
        String secret = key.path("apiKey").asText();

        BERTH.client().as("admin", secret).get("/v2/pw/z/tags/list");
        Response outOfScope = BERTH.client().as("admin", secret).post("/v2/elsewhere/z/blobs/uploads/", new byte[0]);
        assertThat(outOfScope.status()).isEqualTo(403);
        assertThat(outOfScope.json().path("errors").path(0).path("message").asText())
                .as("the admin may; the key, made for pw/**, may not: the refusal blames the key")
                .isEqualTo("this API key of admin is limited to pw/**: it may not create elsewhere/z");
        JsonNode listed = admin.get("/zot/auth/apikey").json().path("apiKeys");
        JsonNode mine = null;
        for (JsonNode k : listed) {
            if (k.path("uuid").asText().equals(key.path("uuid").asText())) {
                mine = k;
            }
            assertThat(k.has("apiKey")).isFalse();
        }
        assertThat(mine).isNotNull();
        assertThat(mine.path("lastUsed").asText()).isNotEqualTo("0001-01-01T00:00:00Z");
        String stored = BERTH.storedMetadata();
        assertThat(stored).contains(key.path("uuid").asText()); // the key is there: the search is not blind
        assertThat(stored).doesNotContain(secret.substring(4));
    }

    @Test
    void keysExpireExactlyAtTheirExpirationDateAndCanBeRevoked() throws Exception {
        RegistryClient robot = BERTH.client().as("robot", "robot-pw");
        Instant expiry = Instant.now().plusSeconds(3).truncatedTo(ChronoUnit.SECONDS);
        String shortLived = key(robot, "{\"label\":\"short\",\"expirationDate\":\"" + expiry + "\"}");
        assertThat(BERTH.client().as("robot", shortLived).get("/v2/pw/k/tags/list").status()).isIn(200, 404);
        Thread.sleep(Math.max(0, Duration.between(Instant.now(), expiry).toMillis()) + 100);
        assertThat(BERTH.client().as("robot", shortLived).get("/v2/pw/k/tags/list").status()).isEqualTo(401);

        assertThat(robot.post("/zot/auth/apikey", ("{\"expirationDate\":\"" + Instant.now().minusSeconds(5) + "\"}").getBytes())
                .status()).as("a date in the past").isEqualTo(400);
        assertThat(robot.post("/zot/auth/apikey", ("{\"expirationDate\":\"" + Instant.now().plus(Duration.ofDays(200)) + "\"}")
                .getBytes()).status()).as("beyond the maximum lifetime").isEqualTo(400);
        assertThat(robot.post("/zot/auth/apikey", "{\"expirationDate\":\"next tuesday\"}".getBytes()).status()).isEqualTo(400);
        assertThat(robot.post("/zot/auth/apikey", "not json".getBytes()).status()).isEqualTo(400);
        assertThat(robot.post("/zot/auth/apikey", new byte[9000]).status()).isEqualTo(413);

        String a = key(robot, "{\"label\":\"a\"}");
        String b = key(robot, "{\"label\":\"b\"}");
        String aId = null;
        for (JsonNode k : robot.get("/zot/auth/apikey").json().path("apiKeys")) {
            if (k.path("label").asText().equals("a")) {
                aId = k.path("uuid").asText();
            }
        }
        assertThat(robot.delete("/zot/auth/apikey?id=" + aId).status()).isEqualTo(200);
        assertThat(robot.delete("/zot/auth/apikey").status()).isEqualTo(400);
        assertThat(BERTH.client().as("robot", a).get("/v2/pw/k/tags/list").status()).isEqualTo(401);
        assertThat(BERTH.client().as("robot", b).get("/v2/pw/k/tags/list").status()).isIn(200, 404);
        assertThat(robot.delete("/zot/auth/apikey?user=twin&all=true").status()).as("only admins act for others").isEqualTo(403);
        assertThat(BERTH.client().as("admin", "admin-pw").delete("/zot/auth/apikey?user=robot&all=true").json()
                .path("revoked").asInt()).isGreaterThanOrEqualTo(1);
        assertThat(BERTH.client().as("robot", b).get("/v2/pw/k/tags/list").status()).isEqualTo(401);
        assertThat(BERTH.client().as("twin", b).get("/v2/pw/k/tags/list").status()).as("a key is its owner's only")
                .isEqualTo(401);
    }

    @Test
    void twentyConcurrentPushesOfOneNewTagByACreateOnlyIdentityLeaveOneWinner() throws Exception {
        RegistryClient robot = BERTH.client().as("robot", key(BERTH.client().as("robot", "robot-pw"), "{}"));
        List<Image> images = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            Image image = TestImages.image(1, 32);
            for (byte[] blob : image.blobs()) {
                robot.pushBlob("pw/race", blob);
            }
            images.add(image);
        }
        List<Callable<Integer>> pushes = new ArrayList<>();
        for (Image image : images) {
            pushes.add(() -> robot.put("/v2/pw/race/manifests/1.0.0", image.manifest(), "Content-Type",
                    MediaTypes.OCI_MANIFEST).status());
        }
        List<Integer> statuses = new ArrayList<>();
        try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (Future<Integer> f : pool.invokeAll(pushes)) {
                statuses.add(f.get());
            }
        }
        assertThat(statuses.stream().filter(s -> s == 201).count()).as("%s", statuses).isEqualTo(1);
        assertThat(statuses.stream().filter(s -> s == 403).count()).isEqualTo(19);
        String winner = robot.get("/v2/pw/race/manifests/1.0.0").header("Docker-Content-Digest");
        assertThat(images.stream().map(i -> i.digest().toString())).contains(winner);
    }

    @Test
    void rePushingTheSameManifestToATagIsNotAnOverwrite() {
        RegistryClient robot = BERTH.client().as("robot", "robot-pw");
        Image image = TestImages.image(1, 32);
        robot.push("pw/retry", "v1", image);
        assertThat(robot.put("/v2/pw/retry/manifests/v1", image.manifest(), "Content-Type", MediaTypes.OCI_MANIFEST).status())
                .as("a CI retry of the same push").isEqualTo(201);
    }

    @Test
    void failuresWaitFailDelay() {
        long start = System.nanoTime();
        assertThat(BERTH.client().as("robot", "wrong").get("/v2/pw/x/tags/list").status()).isEqualTo(401);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofMillis(300));
    }

    @Test
    void metricsAreProtectedAndShowKeyLifetimes() {
        key(BERTH.client().as("twin", "twin-pw"), "{\"label\":\"nightly\",\"expirationDate\":\""
                + Instant.now().plus(Duration.ofDays(30)).truncatedTo(ChronoUnit.SECONDS) + "\"}");
        assertThat(BERTH.client().get("/metrics").status()).isEqualTo(401);
        Response refused = BERTH.client().as("twin", "twin-pw").get("/metrics");
        assertThat(refused.status()).isEqualTo(403);
        assertThat(refused.json().path("errors").path(0).path("message").asText())
                .as("says what was refused and where the rule lives")
                .isEqualTo("twin may not read /metrics (accessControl.metrics.users names who may)");
        Response scrape = BERTH.client().as("prometheus", "scrape").get("/metrics");
        assertThat(scrape.status()).isEqualTo(200);
        assertThat(scrape.header("Content-Type")).startsWith("text/plain");
        String line = scrape.text().lines().filter(l -> l.startsWith("berth_apikey_expiry_seconds{") && l.contains("label=\"nightly\""))
                .findFirst().orElseThrow();
        assertThat(line).contains("user=\"twin\"");
        double seconds = Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
        assertThat(seconds).isBetween(29.0 * 86400, 30.0 * 86400);
        assertThat(scrape.text()).contains("jvm_memory_used_bytes");
    }

    @Test
    void theAuditLogSaysWhoChangedWhatAndHoldsNoSecret() throws Exception {
        String secret = key(BERTH.client().as("robot", "robot-pw"), "{}");
        try (LogCapture log = new LogCapture()) {
            Image image = TestImages.image(1, 16);
            BERTH.client().as("robot", secret).push("pw/audited", "v1", image);
            assertThat(BERTH.client().as("robot", secret).delete("/v2/pw/audited/manifests/v1").status()).isEqualTo(403);
            Thread.sleep(200);
            List<String> audit = Files.readAllLines(AUDIT);
            assertThat(audit).anySatisfy(l -> assertThat(l).contains("\"user\":\"robot\"").contains("\"via\":\"api_key\"")
                    .contains("\"method\":\"PUT\"").contains("/v2/pw/audited/manifests/v1").contains("\"status\":201"));
            assertThat(audit).anySatisfy(l -> assertThat(l).contains("\"method\":\"DELETE\"").contains("\"status\":403"));
            assertThat(String.join("\n", audit)).doesNotContain(secret).doesNotContain("robot-pw");
            assertThat(log.errors()).isEmpty();
        }
        assertThat(Files.readString(AUDIT)).doesNotContain("Basic ");
    }
}
