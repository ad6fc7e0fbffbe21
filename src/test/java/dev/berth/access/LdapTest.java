package dev.berth.access;

import static org.assertj.core.api.Assertions.assertThat;

import com.unboundid.ldap.listener.InMemoryDirectoryServer;
import com.unboundid.ldap.listener.InMemoryDirectoryServerConfig;
import com.unboundid.ldap.listener.InMemoryListenerConfig;
import dev.berth.config.AccessControlConfig;
import dev.berth.config.AccessControlConfig.Grant;
import dev.berth.config.AccessControlConfig.RepositoryPolicy;
import dev.berth.config.AuthConfig;
import dev.berth.oci.MediaTypes;
import dev.berth.testing.RegistryClient;
import dev.berth.testing.TestBerth;
import dev.berth.testing.TestImages;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Sign-in against a real LDAP directory (UnboundID's in-memory server): bind, search, groups. */
class LdapTest {
    private static final String BASE = "ou=users,dc=example,dc=com";
    private static final InMemoryDirectoryServer DIRECTORY = startDirectory();

    @RegisterExtension
    static final TestBerth BERTH = new TestBerth(c -> {
        AuthConfig.Ldap ldap = new AuthConfig.Ldap("127.0.0.1", DIRECTORY.getListenPort(), false, true, false, true, BASE,
                "uid", "memberOf", "(objectClass=inetOrgPerson)", "cn=reader,dc=example,dc=com", "reader-pw", null);
        AuthConfig auth = new AuthConfig(null, ldap, true, Map.of(), List.of(), Duration.ZERO, null, null, null,
                AuthConfig.DEFAULT_SESSION_TTL);
        AccessControlConfig accessControl = new AccessControlConfig(Map.of("**", new RepositoryPolicy(List.of(
                new Grant(Set.of(), Set.of("cn=ci,ou=groups,dc=example,dc=com"), Set.of("read", "create"))), Set.of("read"), Set.of())),
                AccessControlConfig.Grant.NONE, Map.of(), null);
        return c.withHttp(c.http().withAccess(auth, accessControl));
    });

    private static InMemoryDirectoryServer startDirectory() {
        try {
            InMemoryDirectoryServerConfig config = new InMemoryDirectoryServerConfig("dc=example,dc=com");
            config.addAdditionalBindCredentials("cn=reader,dc=example,dc=com", "reader-pw");
            config.setListenerConfigs(InMemoryListenerConfig.createLDAPConfig("ldap", 0));
            config.setSchema(null);
            InMemoryDirectoryServer server = new InMemoryDirectoryServer(config);
            server.startListening();
            server.add("dn: dc=example,dc=com", "objectClass: domain", "dc: example");
            server.add("dn: " + BASE, "objectClass: organizationalUnit", "ou: users");
            server.add("dn: uid=lara," + BASE, "objectClass: inetOrgPerson", "uid: lara", "cn: Lara", "sn: L",
                    "userPassword: lara-pw", "memberOf: cn=ci,ou=groups,dc=example,dc=com");
            server.add("dn: uid=mo," + BASE, "objectClass: inetOrgPerson", "uid: mo", "cn: Mo", "sn: M", "userPassword: mo-pw");
            server.add("dn: uid=gone," + BASE, "objectClass: person", "uid: gone", "cn: Gone", "sn: G", "userPassword: gone-pw");
            return server;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @AfterAll
    static void stopDirectory() {
        DIRECTORY.shutDown(true);
    }

    @Test
    void directoryUsersActWithTheirGroups() {
        RegistryClient lara = BERTH.client().as("lara", "lara-pw");
        TestImages.Image image = TestImages.image(1, 100);
        lara.push("ci/app", "v1", image);
        TestImages.Image other = TestImages.image(1, 100);
        for (byte[] blob : other.blobs()) {
            lara.pushBlob("ci/app", blob);
        }
        assertThat(lara.put("/v2/ci/app/manifests/v1", other.manifest(), "Content-Type", MediaTypes.OCI_MANIFEST).status())
                .as("create but not update").isEqualTo(403);
        RegistryClient mo = BERTH.client().as("mo", "mo-pw");
        assertThat(mo.get("/v2/ci/app/manifests/v1").status()).as("signed in: defaultPolicy read").isEqualTo(200);
        assertThat(mo.post("/v2/ci/app/blobs/uploads/", new byte[0]).status()).isEqualTo(403);
    }

    @Test
    void wrongPasswordsUnknownUsersAndFilteredEntriesAreRefused() {
        assertThat(BERTH.client().as("lara", "nope").get("/v2/ci/app/tags/list").status()).isEqualTo(401);
        assertThat(BERTH.client().as("nobody", "x").get("/v2/ci/app/tags/list").status()).isEqualTo(401);
        assertThat(BERTH.client().as("lara", "").get("/v2/ci/app/tags/list").status())
                .as("an empty password is not an anonymous bind").isEqualTo(401);
        assertThat(BERTH.client().as("gone", "gone-pw").get("/v2/ci/app/tags/list").status())
                .as("userFilter leaves this entry out").isEqualTo(401);
        assertThat(BERTH.client().as("*", "lara-pw").get("/v2/ci/app/tags/list").status())
                .as("a filter in the name is matched literally").isEqualTo(401);
    }

    @Test
    void directoryUsersMayCreateApiKeys() {
        var r = BERTH.client().as("lara", "lara-pw").post("/zot/auth/apikey", "{\"label\":\"x\"}".getBytes());
        assertThat(r.status()).isEqualTo(201);
        String key = r.json().path("apiKey").asText();
        TestImages.Image image = TestImages.image(1, 50);
        assertThat(BERTH.client().as("lara", key).push("ci/keyed", "v1", image)).as("the key carries lara's groups")
                .isEqualTo(image.digest());
    }
}
