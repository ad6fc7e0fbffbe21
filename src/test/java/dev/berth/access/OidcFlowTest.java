package dev.berth.access;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.berth.config.AccessControlConfig;
import dev.berth.config.AccessControlConfig.Grant;
import dev.berth.config.AccessControlConfig.RepositoryPolicy;
import dev.berth.config.AuthConfig;
import dev.berth.testing.Command;
import dev.berth.testing.TestBerth;
import dev.berth.testing.TestImages;
import java.net.CookieManager;
import java.net.CookiePolicy;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import no.nav.security.mock.oauth2.MockOAuth2Server;
import no.nav.security.mock.oauth2.token.DefaultOAuth2TokenCallback;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The deployment's runbook against a real (in-process) OpenID provider: sign in through the provider, create an
 * API key, push a new tag with it using skopeo, fail to overwrite the tag, and fail once the key has expired.
 */
class OidcFlowTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final MockOAuth2Server IDP = startIdp();
    private static final Set<String> ALL = Set.of("read", "create", "update", "delete");

    @RegisterExtension
    static final TestBerth BERTH = new TestBerth(c -> {
        AuthConfig.OidcProvider authentik = new AuthConfig.OidcProvider("oidc", "Authentik",
                URI.create(IDP.issuerUrl("berth").toString()), "berth-registry", "client-secret",
                List.of("openid", "profile", "email", "groups"), "preferred_username", "groups");
        AuthConfig auth = new AuthConfig(null, null, true, Map.of("oidc", authentik), List.of(), Duration.ZERO, null, null,
                null, AuthConfig.DEFAULT_SESSION_TTL);
        AccessControlConfig accessControl = new AccessControlConfig(Map.of("**", new RepositoryPolicy(List.of(
                new Grant(Set.of(), Set.of("artifact-workloads"), Set.of("read", "create")),
                new Grant(Set.of(), Set.of("admins"), ALL)), Set.of("read"), Set.of("read"))),
                new Grant(Set.of(), Set.of("admins"), ALL), Map.of(), null);
        return c.withHttp(c.http().withAccess(auth, accessControl));
    });

    @TempDir
    Path work;
    private HttpClient browser;

    private static MockOAuth2Server startIdp() {
        MockOAuth2Server server = new MockOAuth2Server();
        server.start(0);
        return server;
    }

    @AfterAll
    static void stopIdp() {
        IDP.shutdown();
    }

    @BeforeEach
    void freshBrowser() {
        CookieManager cookies = new CookieManager(null, CookiePolicy.ACCEPT_ALL);
        browser = HttpClient.newBuilder().cookieHandler(cookies).followRedirects(HttpClient.Redirect.NEVER).build();
    }

    private HttpResponse<String> get(URI uri, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri);
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return browser.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> send(String method, URI uri, String body, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri).method(method, HttpRequest.BodyPublishers.ofString(body));
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return browser.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** Signs in as {@code user} of {@code groups} through the provider; returns where Berth sent the browser. */
    private String signIn(String user, List<String> groups) throws Exception {
        IDP.enqueueCallback(new DefaultOAuth2TokenCallback("berth", user, "JWT", List.of("berth-registry"),
                Map.of("preferred_username", user, "groups", groups, "email", user + "@example.com"), 3600));
        HttpResponse<String> login = get(BERTH.uri().resolve("/zot/auth/login?provider=oidc&callback_ui=/after/login"));
        assertThat(login.statusCode()).isEqualTo(302);
        URI authorize = URI.create(login.headers().firstValue("Location").orElseThrow());
        assertThat(authorize.getQuery()).contains("code_challenge_method=S256").contains("nonce=").contains("state=");
        HttpResponse<String> idp = get(authorize);
        assertThat(idp.statusCode()).isEqualTo(302);
        URI callback = URI.create(idp.headers().firstValue("Location").orElseThrow());
        assertThat(callback.getPath()).isEqualTo("/zot/auth/callback/oidc");
        HttpResponse<String> done = get(callback);
        assertThat(done.statusCode()).as(done.body()).isEqualTo(302);
        String cookie = done.headers().allValues("Set-Cookie").stream().filter(c -> c.startsWith("session=")).findFirst()
                .orElseThrow();
        assertThat(cookie).contains("HttpOnly").containsIgnoringCase("SameSite=Lax").contains("Path=/");
        return done.headers().firstValue("Location").orElseThrow();
    }

    private String skopeo(int expectedExit, String... args) {
        List<String> command = new ArrayList<>(List.of("skopeo", "--insecure-policy"));
        command.addAll(List.of(args));
        Command.Result result = Command.run(work, Map.of("HOME", work.toString()), command);
        if (expectedExit == 0) {
            assertThat(result.exitCode()).as(result.output()).isZero();
        } else {
            assertThat(result.exitCode()).as(result.output()).isNotZero();
        }
        return result.output();
    }

    @Test
    void theKeyRotationRunbook() throws Exception {
        Command.assumeInstalled("skopeo");
        assertThat(signIn("zot-ci", List.of("artifact-workloads"))).isEqualTo("/after/login");

        // The session counts for the API only with zot's header, so another site's form cannot use it.
        URI keys = BERTH.uri().resolve("/zot/auth/apikey");
        String expiry = Instant.now().plusSeconds(12).truncatedTo(ChronoUnit.SECONDS).toString();
        String request = "{\"label\":\"ci\",\"scopes\":[],\"expirationDate\":\"" + expiry + "\"}";
        assertThat(send("POST", keys, request).statusCode()).isEqualTo(401);
        HttpResponse<String> created = send("POST", keys, request, "X-ZOT-API-CLIENT", "zot-ui",
                "Content-Type", "application/json");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        JsonNode key = JSON.readTree(created.body());
        String secret = key.path("apiKey").asText();
        assertThat(secret).matches("zak_[0-9a-f]{32}");
        assertThat(key.path("expirationDate").asText()).isEqualTo(expiry);
        JsonNode listed = JSON.readTree(get(keys, "X-ZOT-API-CLIENT", "zot-ui").body());
        assertThat(listed.path("apiKeys").get(0).path("uuid").asText()).isEqualTo(key.path("uuid").asText());
        assertThat(listed.toString()).doesNotContain(secret);

        Path image = work.resolve("image");
        TestImages.writeLayout(image, "v1", TestImages.image(2, 20_000), List.of());
        Path other = work.resolve("other");
        TestImages.writeLayout(other, "v1", TestImages.image(2, 20_000), List.of());
        String target = "docker://" + BERTH.hostPort() + "/blumeops/app:1.0.0";
        String creds = "zot-ci:" + secret;
        skopeo(0, "copy", "--dest-tls-verify=false", "--dest-creds", creds, "oci:" + image + ":v1", target);
        String overwrite = skopeo(1, "copy", "--dest-tls-verify=false", "--dest-creds", creds, "oci:" + other + ":v1", target);
        assertThat(overwrite.toLowerCase()).contains("denied");
        // Anonymous pulls still work.
        skopeo(0, "inspect", "--tls-verify=false", target);

        Thread.sleep(Math.max(0, Duration.between(Instant.now(), Instant.parse(expiry)).toMillis()) + 500);
        String expired = skopeo(1, "copy", "--dest-tls-verify=false", "--dest-creds", creds, "oci:" + image + ":v1",
                "docker://" + BERTH.hostPort() + "/blumeops/app:1.0.1");
        assertThat(expired.toLowerCase()).containsAnyOf("unauthorized", "authentication required", "401");
        assertThat(BERTH.client().as("zot-ci", secret).get("/v2/blumeops/app/tags/list").status()).isEqualTo(401);
    }

    @Test
    void groupsComeFromTheProviderAtEachSignIn() throws Exception {
        signIn("dana", List.of("admins"));
        HttpResponse<String> created = send("POST", BERTH.uri().resolve("/zot/auth/apikey"), "{}",
                "X-ZOT-API-CLIENT", "zot-ui");
        String secret = JSON.readTree(created.body()).path("apiKey").asText();
        TestImages.Image image = TestImages.image(1, 10);
        assertThat(BERTH.client().as("dana", secret).push("team/x", "v1", image)).isEqualTo(image.digest());
        assertThat(BERTH.client().as("dana", secret).delete("/v2/team/x/manifests/v1").status()).as("admin").isEqualTo(202);

        freshBrowser();
        signIn("dana", List.of()); // the provider took dana out of admins
        assertThat(BERTH.client().as("dana", secret).delete("/v2/team/x/manifests/" + image.digest()).status())
                .as("the key acts with the groups of the latest sign-in").isEqualTo(403);
    }

    @Test
    void aCallbackFromAnotherBrowserIsRefused() throws Exception {
        IDP.enqueueCallback(new DefaultOAuth2TokenCallback("berth", "mallory"));
        HttpResponse<String> login = get(BERTH.uri().resolve("/zot/auth/login?provider=oidc"));
        HttpResponse<String> idp = get(URI.create(login.headers().firstValue("Location").orElseThrow()));
        URI callback = URI.create(idp.headers().firstValue("Location").orElseThrow());
        freshBrowser(); // the victim's browser: no state cookie
        HttpResponse<String> hijack = get(callback);
        assertThat(hijack.statusCode()).isEqualTo(401);
        assertThat(hijack.headers().allValues("Set-Cookie")).noneMatch(c -> c.startsWith("session=") && !c.startsWith("session=;"));
    }

    @Test
    void signingOutEndsTheSessionAndNamesTheProvidersLogout() throws Exception {
        signIn("erin", List.of());
        URI keys = BERTH.uri().resolve("/zot/auth/apikey");
        assertThat(get(keys, "X-ZOT-API-CLIENT", "zot-ui").statusCode()).isEqualTo(200);
        HttpResponse<String> out = send("POST", BERTH.uri().resolve("/zot/auth/logout"), "", "X-ZOT-API-CLIENT", "zot-ui");
        assertThat(out.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(out.body()).path("endSessionUrl").asText()).startsWith(IDP.endSessionEndpointUrl("berth").toString())
                .contains("client_id=berth-registry");
        assertThat(get(keys, "X-ZOT-API-CLIENT", "zot-ui").statusCode()).isEqualTo(401);
    }

    @Test
    void returnPathsCannotLeadAway() throws Exception {
        for (String target : List.of("https://evil.example.com/", "//evil.example.com/x", "/\\evil", "/\t/evil.example.com/x",
                "/ /evil.example.com", "javascript:alert(1)")) {
            HttpResponse<String> login = get(BERTH.uri().resolve("/zot/auth/login?provider=oidc&callback_ui="
                    + java.net.URLEncoder.encode(target, java.nio.charset.StandardCharsets.UTF_8)));
            assertThat(login.statusCode()).isEqualTo(302);
            IDP.enqueueCallback(new DefaultOAuth2TokenCallback("berth", "frank", "JWT", List.of("berth-registry"),
                    Map.of("preferred_username", "frank")));
            HttpResponse<String> idp = get(URI.create(login.headers().firstValue("Location").orElseThrow()));
            HttpResponse<String> done = get(URI.create(idp.headers().firstValue("Location").orElseThrow()));
            assertThat(done.headers().firstValue("Location")).hasValue("/");
        }
        assertThat(get(BERTH.uri().resolve("/zot/auth/login?provider=github")).statusCode()).isEqualTo(400);
    }

    @Test
    void mgmtNamesTheProvider() throws Exception {
        JsonNode mgmt = JSON.readTree(get(BERTH.uri().resolve("/v2/_zot/ext/mgmt")).body());
        assertThat(mgmt.path("http").path("auth").path("openid").path("providers").path("oidc").path("name").asText())
                .isEqualTo("Authentik");
        assertThat(mgmt.path("http").path("auth").path("apikey").asBoolean()).isTrue();
        assertThat(mgmt.path("http").path("auth").has("htpasswd")).isFalse();
    }
}
