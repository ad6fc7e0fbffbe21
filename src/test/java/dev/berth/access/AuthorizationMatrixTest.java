package dev.berth.access;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.berth.config.AccessControlConfig;
import dev.berth.config.AccessControlConfig.Grant;
import dev.berth.config.AccessControlConfig.RepositoryPolicy;
import dev.berth.config.AuthConfig;
import dev.berth.oci.Digest;
import dev.berth.oci.MediaTypes;
import dev.berth.testing.RegistryClient;
import dev.berth.testing.RegistryClient.Response;
import dev.berth.testing.TestBerth;
import dev.berth.testing.TestImages;
import dev.berth.testing.TestImages.Image;
import dev.berth.testing.TestUsers;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Every operation, by every kind of caller, on a private, a mirrored and an unmatched repository, against a
 * real server: the answer must be what the policy says, and nothing else.
 */
class AuthorizationMatrixTest {
    private static final Set<String> ALL = Set.of("read", "create", "update", "delete");
    private static final String APP = "blumeops/app";
    private static final String LIB = "blumeops/lib";
    private static final String MIRROR = "docker.io/library/alpine";
    private static final String UNMATCHED = "other/thing";
    private static final List<String> REPOSITORIES = List.of(APP, LIB, MIRROR, UNMATCHED);

    @RegisterExtension
    static final TestBerth BERTH = new TestBerth(c -> {
        AuthConfig auth = new AuthConfig(TestUsers.tempHtpasswd(Map.of("alice", "alice-pw", "robot", "robot-pw",
                "admin", "admin-pw")), null, true, Map.of(), List.of(), Duration.ZERO, null, null, null,
                AuthConfig.DEFAULT_SESSION_TTL);
        Map<String, RepositoryPolicy> repositories = new LinkedHashMap<>();
        repositories.put("blumeops/**", new RepositoryPolicy(List.of(
                new Grant(Set.of(), Set.of("ci"), Set.of("read", "create")),
                new Grant(Set.of("alice"), Set.of(), Set.of("read"))), Set.of(), Set.of()));
        repositories.put("docker.io/**", new RepositoryPolicy(List.of(), Set.of("read"), Set.of("read")));
        AccessControlConfig accessControl = new AccessControlConfig(repositories, new Grant(Set.of("admin"), Set.of(), ALL),
                Map.of("ci", Set.of("robot")), null);
        return c.withHttp(c.http().withAccess(auth, accessControl));
    });

    enum Op { PULL, TAGS, PUSH_NEW, OVERWRITE, PUSH_DIGEST, DELETE_MANIFEST, DELETE_BLOB, MOUNT }

    private static RegistryClient admin;
    private static final Map<String, RegistryClient> callers = new LinkedHashMap<>();
    private static final Image V1 = TestImages.image(1, 64);
    private static final Image OTHER = TestImages.image(1, 64);
    private static final byte[] SPARE = TestImages.randomBytes(32);
    private static final byte[] MOUNTABLE = TestImages.randomBytes(48);

    @BeforeAll
    static void callers() {
        RegistryClient anonymous = BERTH.client();
        admin = anonymous.as("admin", "admin-pw");
        callers.put("anonymous", anonymous);
        callers.put("alice", anonymous.as("alice", "alice-pw"));
        callers.put("robot-key", anonymous.as("robot", createKey(anonymous.as("robot", "robot-pw"), "[]")));
        callers.put("admin", admin);
        callers.put("scoped-key", anonymous.as("robot", createKey(anonymous.as("robot", "robot-pw"), "[\"blumeops/app/**\"]")));
        admin.pushBlob(MIRROR, MOUNTABLE);
    }

    private static String createKey(RegistryClient owner, String scopes) {
        Response r = owner.post("/zot/auth/apikey", ("{\"label\":\"ci\",\"scopes\":" + scopes + "}").getBytes(),
                "Content-Type", "application/json");
        assertThat(r.status()).as(r.text()).isEqualTo(201);
        return r.json().path("apiKey").asText();
    }

    /** What the policy above grants: identity → repository → operations that succeed. */
    private static Set<Op> expected(String who, String repository) {
        Set<Op> readOnly = EnumSet.of(Op.PULL, Op.TAGS);
        Set<Op> ci = EnumSet.of(Op.PULL, Op.TAGS, Op.PUSH_NEW, Op.PUSH_DIGEST, Op.MOUNT);
        boolean privateArea = repository.startsWith("blumeops/");
        return switch (who) {
            case "anonymous" -> repository.equals(MIRROR) ? readOnly : EnumSet.noneOf(Op.class);
            case "alice" -> privateArea || repository.equals(MIRROR) ? readOnly : EnumSet.noneOf(Op.class);
            case "robot-key" -> privateArea ? ci : repository.equals(MIRROR) ? readOnly : EnumSet.noneOf(Op.class);
            case "admin" -> EnumSet.allOf(Op.class);
            case "scoped-key" -> repository.equals(APP) ? ci : EnumSet.noneOf(Op.class);
            default -> throw new IllegalArgumentException(who);
        };
    }

    /** Puts the repository in the same state before every operation. */
    private static void reset(String repository) {
        admin.push(repository, "v1", V1);
        for (byte[] blob : OTHER.blobs()) {
            admin.pushBlob(repository, blob);
        }
        admin.pushBlob(repository, SPARE);
    }

    private static Response perform(RegistryClient c, Op op, String r) {
        return switch (op) {
            case PULL -> c.get("/v2/" + r + "/manifests/v1");
            case TAGS -> c.get("/v2/" + r + "/tags/list");
            case PUSH_NEW -> {
                Image fresh = TestImages.image(1, 16);
                Response blob = c.post("/v2/" + r + "/blobs/uploads/?digest=" + TestImages.sha256(fresh.blobs().get(0)),
                        fresh.blobs().get(0));
                if (blob.status() != 201) {
                    yield blob;
                }
                c.post("/v2/" + r + "/blobs/uploads/?digest=" + TestImages.sha256(fresh.blobs().get(1)), fresh.blobs().get(1));
                yield c.put("/v2/" + r + "/manifests/new-" + System.nanoTime(), fresh.manifest(), "Content-Type", MediaTypes.OCI_MANIFEST);
            }
            case OVERWRITE -> c.put("/v2/" + r + "/manifests/v1", OTHER.manifest(), "Content-Type", MediaTypes.OCI_MANIFEST);
            case PUSH_DIGEST -> c.put("/v2/" + r + "/manifests/" + OTHER.digest(), OTHER.manifest(), "Content-Type", MediaTypes.OCI_MANIFEST);
            case DELETE_MANIFEST -> c.delete("/v2/" + r + "/manifests/" + V1.digest());
            case DELETE_BLOB -> c.delete("/v2/" + r + "/blobs/" + TestImages.sha256(SPARE));
            case MOUNT -> c.post("/v2/" + r + "/blobs/uploads/?mount=" + TestImages.sha256(MOUNTABLE) + "&from=" + MIRROR, new byte[0]);
        };
    }

    private static int successStatus(Op op) {
        return switch (op) {
            case PULL, TAGS -> 200;
            case PUSH_NEW, OVERWRITE, PUSH_DIGEST, MOUNT -> 201;
            case DELETE_MANIFEST, DELETE_BLOB -> 202;
        };
    }

    @Test
    void everyCallerGetsExactlyWhatThePolicySays() {
        List<String> wrong = new ArrayList<>();
        int checks = 0;
        for (Map.Entry<String, RegistryClient> caller : callers.entrySet()) {
            String who = caller.getKey();
            for (String repository : REPOSITORIES) {
                Set<Op> allowed = expected(who, repository);
                for (Op op : Op.values()) {
                    reset(repository);
                    Response r = perform(caller.getValue(), op, repository);
                    int want;
                    if (allowed.contains(op)) {
                        // A mount its key's scope cannot read from is not refused: it becomes an ordinary upload.
                        want = op == Op.MOUNT && who.equals("scoped-key") ? 202 : successStatus(op);
                    } else {
                        want = who.equals("anonymous") ? 401 : 403;
                    }
                    checks++;
                    if (r.status() != want) {
                        wrong.add(who + " " + op + " " + repository + ": want " + want + ", got " + r.status() + " " + r.text());
                    }
                    if (want == 401 && r.header("WWW-Authenticate") == null) {
                        wrong.add(who + " " + op + " " + repository + ": a 401 without a challenge");
                    }
                }
            }
        }
        assertThat(wrong).as("of %d checks", checks).isEmpty();
        assertThat(checks).isEqualTo(5 * 4 * 8);
    }

    @Test
    void theCatalogShowsWhatEachCallerMayRead() {
        for (String r : REPOSITORIES) {
            reset(r);
        }
        Map<String, Set<String>> want = Map.of(
                "anonymous", Set.of(MIRROR),
                "alice", Set.of(APP, LIB, MIRROR),
                "robot-key", Set.of(APP, LIB, MIRROR),
                "admin", Set.of(APP, LIB, MIRROR, UNMATCHED),
                "scoped-key", Set.of(APP));
        callers.forEach((who, client) -> {
            JsonNode repositories = client.get("/v2/_catalog").json().path("repositories");
            Set<String> seen = new TreeSet<>();
            repositories.forEach(n -> seen.add(n.asText()));
            assertThat(seen).as(who).isEqualTo(want.get(who));
        });
    }

    @Test
    void apiKeyManagementNeedsAUserWhoSignedInOtherwise() {
        assertThat(callers.get("anonymous").post("/zot/auth/apikey", "{}".getBytes()).status()).isEqualTo(401);
        assertThat(callers.get("alice").post("/zot/auth/apikey", "{}".getBytes()).status()).isEqualTo(201);
        assertThat(callers.get("admin").get("/zot/auth/apikey").status()).isEqualTo(200);
        assertThat(callers.get("robot-key").post("/zot/auth/apikey", "{}".getBytes()).status()).isEqualTo(403);
        assertThat(callers.get("scoped-key").get("/zot/auth/apikey").status()).isEqualTo(403);
    }

    @Test
    void badCredentialsAreRefusedEvenWhereAnonymousMayRead() {
        Response r = BERTH.client().as("alice", "wrong").get("/v2/" + MIRROR + "/tags/list");
        assertThat(r.status()).isEqualTo(401);
        assertThat(r.errorCode()).isEqualTo("UNAUTHORIZED");
        assertThat(r.header("WWW-Authenticate")).isEqualTo("Basic realm=\"Berth\"");
        assertThat(BERTH.client().as("robot", "zak_" + "0".repeat(32)).get("/v2/" + MIRROR + "/tags/list").status()).isEqualTo(401);
        assertThat(BERTH.client().with("Authorization", "Bearer abc").get("/v2/" + MIRROR + "/tags/list").status()).isEqualTo(401);
    }

    @Test
    void dockerIsAskedForItsCredentialsOnThePing() {
        Response docker = BERTH.client().get("/v2/", "User-Agent", "docker/27.0.1 go/go1.22 os/linux");
        assertThat(docker.status()).isEqualTo(401);
        assertThat(docker.header("WWW-Authenticate")).startsWith("Basic realm=");
        Response skopeo = BERTH.client().get("/v2/", "User-Agent", "skopeo/1.9.3");
        assertThat(skopeo.status()).isEqualTo(200);
        assertThat(callers.get("alice").get("/v2/", "User-Agent", "docker/27.0.1").status()).isEqualTo(200);
        Digest unused = TestImages.sha256(new byte[1]);
        assertThat(unused).isNotNull();
    }
}
