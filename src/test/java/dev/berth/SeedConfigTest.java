package dev.berth;

import static org.assertj.core.api.Assertions.assertThat;

import dev.berth.config.BerthConfig;
import dev.berth.config.ConfigLoader;
import dev.berth.config.SyncConfig;
import dev.berth.testing.RegistryClient;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import no.nav.security.mock.oauth2.MockOAuth2Server;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The deployment's zot config.json (shared/reference/zot.md §1), with local stand-ins for the IdP and paths. */
class SeedConfigTest {
    @TempDir
    Path dir;

    @Test
    void berthStartsWithTheSeedConfigAndSaysWhatItDoesNotDoYet() throws Exception {
        MockOAuth2Server idp = new MockOAuth2Server();
        idp.start(0);
        try {
            Files.writeString(dir.resolve("oidc-credentials.json"), "{\"clientid\":\"zot\",\"clientsecret\":\"s\"}");
            Files.writeString(dir.resolve("sessionKeys.json"), "{\"hashKey\":\"x\",\"encryptKey\":\"y\"}");
            Files.writeString(dir.resolve("sync-creds.json"), "{\"registry-1.docker.io\":{\"username\":\"u\",\"password\":\"p\"}}");
            String template;
            try (InputStream in = getClass().getResourceAsStream("/seed-config.json")) {
                template = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
            Path config = dir.resolve("config.json");
            Files.writeString(config, template.replace("${ROOT}", dir.resolve("data").toString())
                    .replace("${DIR}", dir.toString()).replace("${ISSUER}", idp.issuerUrl("authentik").toString()));
            ConfigLoader.Loaded loaded = ConfigLoader.load(config);
            assertThat(loaded.warnings()).anySatisfy(w -> assertThat(w).startsWith("extensions.search:"))
                    .noneSatisfy(w -> assertThat(w).startsWith("extensions.ui"))
                    .anySatisfy(w -> assertThat(w).startsWith("http.auth.sessionKeysFile:"))
                    .noneSatisfy(w -> assertThat(w).startsWith("http.accessControl"))
                    .noneSatisfy(w -> assertThat(w).startsWith("extensions.sync"))
                    .noneSatisfy(w -> assertThat(w).contains("unknown key"));
            BerthConfig settings = loaded.config();
            assertThat(settings.sync().registries()).hasSize(3);
            assertThat(settings.sync().registries().get(0).login(URI.create("https://registry-1.docker.io")))
                    .as("credentials by URL host").isEqualTo(new SyncConfig.Login("u", "p"));
            assertThat(settings.sync().registries().get(1).logins()).as("ghcr.io has none in the file").isEmpty();
            try (Berth berth = Berth.start(settings)) {
                RegistryClient client = new RegistryClient(berth.uri());
                assertThat(client.get("/v2/").status()).isEqualTo(200);
                assertThat(client.get("/v2/_catalog").status()).isEqualTo(200);
                assertThat(client.post("/v2/team/app/blobs/uploads/", new byte[0]).status()).isEqualTo(401);
                assertThat(client.get("/metrics").status()).as("metrics.anonymousPolicy read").isEqualTo(200);
                assertThat(client.get("/zot/auth/login?provider=oidc").header("Location"))
                        .startsWith(idp.authorizationEndpointUrl("authentik").toString())
                        .contains("redirect_uri=https%3A%2F%2Fregistry.example.com%2Fzot%2Fauth%2Fcallback%2Foidc");
                assertThat(client.get("/login").text()).as("the seed's ui extension: the login page")
                        .contains("Sign in with Authentik");
                assertThat(client.get("/v2/_zot/ext/mgmt").json().path("http").path("auth").path("openid").path("providers")
                        .path("oidc").path("name").asText()).isEqualTo("Authentik");
            }
        } finally {
            idp.shutdown();
        }
    }
}
