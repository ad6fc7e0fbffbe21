package dev.berth.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code http.auth} and {@code http.accessControl} as zot writes them. */
class AccessConfigTest {
    @TempDir
    Path dir;
    private Path htpasswd;

    @BeforeEach
    void files() throws Exception {
        htpasswd = Files.writeString(dir.resolve("htpasswd"), "admin:$2y$05$abcdefghijklmnopqrstuuNL1r8qTXdJyQ8gRSa4Qz0h/mcyP3R7a\n");
    }

    private ConfigLoader.Loaded load(String http) throws ConfigException {
        String json = "{\"storage\":{\"rootDirectory\":\"" + dir + "\"},\"http\":" + http + "}";
        return ConfigLoader.parse(json.getBytes(StandardCharsets.UTF_8), "test.json");
    }

    private void assertProblem(String http, String problem) {
        assertThatThrownBy(() -> load(http)).isInstanceOfSatisfying(ConfigException.class,
                e -> assertThat(e.problems()).anySatisfy(p -> assertThat(p).contains(problem)));
    }

    @Test
    void readsTheSeedDeploymentsAccessSettings() throws Exception {
        Path oidc = Files.writeString(dir.resolve("oidc.json"), "{\"clientid\":\"berth\",\"clientsecret\":\"s3cret\"}");
        BerthConfig.Http http = load("""
                {"realm":"zot","externalUrl":"https://registry.example.com",
                 "auth":{"failDelay":1,"apikey":true,"sessionKeysFile":"/etc/zot/sessionKeys.json",
                   "htpasswd":{"path":"%s"},
                   "openid":{"providers":{"oidc":{"name":"Authentik","issuer":"https://authentik.example.com/application/o/zot/",
                     "credentialsFile":"%s","scopes":["profile","email","groups"],
                     "claimMapping":{"username":"preferred_username","groups":"groups"}}}}},
                 "accessControl":{
                   "repositories":{"**":{"anonymousPolicy":["read"],"defaultPolicy":["read"],
                     "policies":[{"groups":["artifact-workloads"],"actions":["read","create"]},
                                 {"groups":["admins"],"actions":["read","create","update","delete"]}]}},
                   "adminPolicy":{"groups":["admins"],"actions":["read","create","update","delete"]},
                   "groups":{"ci":{"users":["robot"]}},
                   "metrics":{"users":["prometheus"],"anonymousPolicy":["read"]}}}
                """.formatted(htpasswd, oidc)).config().http();
        assertThat(http.realm()).isEqualTo("zot");
        AuthConfig auth = http.auth();
        assertThat(auth.htpasswd()).isEqualTo(htpasswd);
        assertThat(auth.failDelay()).isEqualTo(Duration.ofSeconds(1));
        assertThat(auth.apiKeys()).isTrue();
        AuthConfig.OidcProvider provider = auth.openid().get("oidc");
        assertThat(provider.name()).isEqualTo("Authentik");
        assertThat(provider.clientId()).isEqualTo("berth");
        assertThat(provider.clientSecret()).isEqualTo("s3cret");
        assertThat(provider.scopes()).containsExactly("openid", "profile", "email", "groups");
        assertThat(provider.usernameClaim()).isEqualTo("preferred_username");
        assertThat(provider.toString()).doesNotContain("s3cret");
        AccessControlConfig ac = http.accessControl();
        assertThat(ac.repositories().get("**").policies()).hasSize(2);
        assertThat(ac.repositories().get("**").anonymousPolicy()).containsExactly("read");
        assertThat(ac.adminPolicy().groups()).containsExactly("admins");
        assertThat(ac.groups().get("ci")).containsExactly("robot");
        assertThat(ac.metrics().users()).containsExactly("prometheus");
    }

    @Test
    void openIdSwitchesApiKeysOnAsZotDoes() throws Exception {
        AuthConfig auth = load("{\"externalUrl\":\"https://registry.example.com\",\"auth\":{\"openid\":{\"providers\":"
                + "{\"oidc\":{\"issuer\":\"https://idp.example.com\",\"clientid\":\"x\"}}}}}").config().http().auth();
        assertThat(auth.apiKeys()).isTrue();
        assertThat(auth.openid().get("oidc").usernameClaim()).isEqualTo("email");
        assertThat(auth.openid().get("oidc").clientSecret()).isNull();
    }

    @Test
    void namesWhatIsWrong() {
        assertProblem("{\"auth\":{\"htpasswd\":{\"path\":\"/nonexistent\"}}}", "http.auth.htpasswd.path: /nonexistent is not a readable file");
        assertProblem("{\"auth\":{\"openid\":{\"providers\":{\"okta\":{\"issuer\":\"https://x\",\"clientid\":\"y\"}}}}}",
                "http.auth.openid.providers.okta: unknown provider");
        assertProblem("{\"auth\":{\"openid\":{\"providers\":{\"oidc\":{\"clientid\":\"y\"}}}}}",
                "http.auth.openid.providers.oidc.issuer: required");
        assertProblem("{\"auth\":{\"apikey\":true}}", "http.auth.apikey: API keys belong to users");
        assertProblem("{\"auth\":{\"openid\":{\"providers\":{\"oidc\":{\"issuer\":\"https://x\",\"clientid\":\"y\"}}}}}",
                "http.externalUrl: required with openid");
        assertProblem("{\"auth\":{\"htpasswd\":{\"path\":\"" + htpasswd + "\"}},\"accessControl\":{\"repositories\":"
                + "{\"**\":{\"policies\":[{\"users\":[\"a\"],\"actions\":[\"push\"]}]}}}}",
                "http.accessControl.repositories.**.policies[0].actions: unknown action \"push\"");
        assertProblem("{\"accessControl\":{\"repositories\":{\"**\":{\"defaultPolicy\":[\"read\"]}}}}",
                "http auth configures no way to sign in".replace("http auth", "http.auth"));
        assertProblem("{\"auth\":{\"htpasswd\":{\"path\":\"" + htpasswd + "\"},\"mtls\":{}}}", "need http.tls with a cacert");
        assertProblem("{\"auth\":{\"htpasswd\":{\"path\":\"" + htpasswd + "\"}},\"accessControl\":{\"repositories\":"
                + "{\"**\":{\"policies\":[{\"users\":[\"a\"],\"actions\":[\"read\"],\"conditions\":[{}]}]}}}}",
                "conditions: not supported yet");
    }

    @Test
    void anonymousOnlyAccessControlNeedsNoSignIn() throws Exception {
        AccessControlConfig ac = load("{\"accessControl\":{\"repositories\":{\"public/**\":{\"anonymousPolicy\":[\"read\"]}}}}")
                .config().http().accessControl();
        assertThat(ac.repositories().get("public/**").anonymousPolicy()).isEqualTo(Set.of("read"));
    }

    @Test
    void secretsInCredentialFilesNeverReachMessages() throws Exception {
        Path broken = Files.writeString(dir.resolve("oidc.json"), "{\"clientid\":\"x\",\"clientsecret\":\"hunter2\"");
        assertThatThrownBy(() -> load("{\"auth\":{\"openid\":{\"providers\":{\"oidc\":{\"issuer\":\"https://x\","
                + "\"credentialsFile\":\"" + broken + "\"}}}}}"))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(String.join("\n", e.problems()))
                        .contains("cannot be read as JSON").doesNotContain("hunter2"));
    }
}
