package dev.berth.ui;

import static org.assertj.core.api.Assertions.assertThat;

import at.favre.lib.crypto.bcrypt.BCrypt;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.berth.config.AccessControlConfig;
import dev.berth.config.AccessControlConfig.Grant;
import dev.berth.config.AccessControlConfig.RepositoryPolicy;
import dev.berth.config.AuthConfig;
import dev.berth.oci.MediaTypes;
import dev.berth.testing.RegistryClient;
import dev.berth.testing.TestBerth;
import dev.berth.testing.TestImages;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The pages over HTTP: sign-in, forms that only Berth's pages can post, what each visitor may see, paging. */
class PagesTest {
    private static final Set<String> ALL = Set.of("read", "create", "update", "delete");
    private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();

    @RegisterExtension
    static final TestBerth BERTH = new TestBerth(c -> {
        AuthConfig auth = new AuthConfig(htpasswd(), null, true, Map.of(), List.of(), Duration.ZERO, null, null, null,
                AuthConfig.DEFAULT_SESSION_TTL);
        Map<String, RepositoryPolicy> repositories = new LinkedHashMap<>();
        repositories.put("**", new RepositoryPolicy(List.of(), Set.of("read", "create"), Set.of("read")));
        repositories.put("private/**", new RepositoryPolicy(List.of(new Grant(Set.of("alice"), Set.of(), Set.of("read"))),
                Set.of(), Set.of()));
        AccessControlConfig accessControl = new AccessControlConfig(repositories, new Grant(Set.of("root"), Set.of(), ALL),
                Map.of(), null);
        return c.withHttp(c.http().withAccess(auth, accessControl));
    });

    private PageClient browser;

    private static Path htpasswd() {
        try {
            Path file = Files.createTempFile("berth-pages", ".htpasswd");
            StringBuilder text = new StringBuilder();
            for (String user : List.of("root", "alice", "bob")) {
                text.append(user).append(':').append(BCrypt.withDefaults().hashToString(4, (user + "-pw").toCharArray()))
                        .append('\n');
            }
            Files.writeString(file, text);
            file.toFile().deleteOnExit();
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @BeforeEach
    void freshBrowser() {
        browser = new PageClient(BERTH.uri());
    }

    private HttpResponse<String> signIn(String user) throws Exception {
        return browser.signIn(user, "/user/apikey");
    }

    private int keys(String user) {
        return BERTH.client().as(user, user + "-pw").get("/zot/auth/apikey").json().path("apiKeys").size();
    }

    @Test
    void signingInSetsASafeSessionCookieAndGoesWhereTheUserWasGoing() throws Exception {
        HttpResponse<String> login = browser.get("/login");
        assertThat(login.statusCode()).isEqualTo(200);
        assertThat(login.headers().firstValue("Content-Security-Policy").orElseThrow())
                .contains("default-src 'none'").contains("script-src 'self'").contains("frame-ancestors 'none'")
                .doesNotContain("unsafe-inline");
        assertThat(login.headers().firstValue("X-Frame-Options")).hasValue("DENY");
        assertThat(login.headers().firstValue("X-Content-Type-Options")).hasValue("nosniff");
        assertThat(login.headers().firstValue("Cache-Control")).hasValue("no-store");
        String token = PageClient.csrf(login);

        HttpResponse<String> forged = browser.post("/login", Map.of("csrf", "forged", "username", "alice", "password", "alice-pw"));
        assertThat(forged.statusCode()).isEqualTo(403);
        assertThat(forged.headers().allValues("Set-Cookie")).noneMatch(c -> c.startsWith("session=") && !c.startsWith("session=;"));

        assertThat(token).isNotEqualTo(PageClient.csrf(forged)).as("each form gets a token of its own");
        HttpResponse<String> wrong = browser.post("/login", Map.of("csrf", PageClient.csrf(forged), "username", "alice", "password", "nope"));
        assertThat(wrong.statusCode()).isEqualTo(401);
        assertThat(wrong.body()).contains("Wrong username or password").doesNotContain("nope");

        HttpResponse<String> done = browser.post("/login", Map.of("csrf", PageClient.csrf(wrong), "username", "alice", "password", "alice-pw",
                "next", "//evil.example.com/x"));
        assertThat(done.statusCode()).isEqualTo(303);
        assertThat(done.headers().firstValue("Location")).as("never to another site").hasValue("/explore");
        String cookie = done.headers().allValues("Set-Cookie").stream().filter(c -> c.startsWith("session=")).findFirst()
                .orElseThrow();
        assertThat(cookie).contains("HttpOnly").containsIgnoringCase("SameSite=Lax").contains("Path=/");
        assertThat(browser.get("/user/apikey").statusCode()).isEqualTo(200);

        freshBrowser();
        HttpResponse<String> key = browser.post("/login", Map.of("csrf", PageClient.csrf(browser.get("/login")), "username", "alice",
                "password", "zak_0123456789abcdef0123456789abcdef"));
        assertThat(key.statusCode()).as("an API key does not open a browser session").isEqualTo(401);
    }

    @Test
    void formsWithoutThePagesTokenChangeNothing() throws Exception {
        signIn("bob");
        int before = keys("bob");
        HttpResponse<String> page = browser.get("/user/apikey");
        assertThat(page.headers().firstValue("Cache-Control")).hasValue("no-store");
        String token = PageClient.csrf(page);

        assertThat(browser.post("/user/apikey", Map.of("action", "create", "label", "x")).statusCode()).isEqualTo(403);
        assertThat(browser.post("/user/apikey", Map.of("action", "create", "label", "x", "csrf", "guess")).statusCode()).isEqualTo(403);
        assertThat(browser.post("/user/apikey", Map.of("action", "create", "label", "x", "csrf", token),
                "Sec-Fetch-Site", "cross-site").statusCode()).as("another site's form").isEqualTo(403);
        assertThat(keys("bob")).isEqualTo(before);

        HttpResponse<String> created = browser.post("/user/apikey", Map.of("action", "create", "label", "<script>alert(1)</script>",
                "csrf", token, "expires", "", "once", "first"));
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        assertThat(created.body()).contains("&lt;script&gt;alert(1)&lt;/script&gt;").doesNotContain("<script>alert");
        assertThat(keys("bob")).isEqualTo(before + 1);

        HttpResponse<String> badDate = browser.post("/user/apikey", Map.of("action", "create", "label", "y", "csrf", token,
                "expires", "next tuesday", "once", "second"));
        assertThat(badDate.statusCode()).isEqualTo(400);
        assertThat(badDate.body()).contains("must be a date");
        assertThat(browser.post("/user/apikey", Map.of("action", "revoke-all", "csrf", token)).statusCode()).isEqualTo(303);
        assertThat(keys("bob")).isZero();

        assertThat(browser.post("/logout", Map.of()).statusCode()).as("signing out needs the token too").isEqualTo(403);
        assertThat(browser.post("/logout", Map.of("csrf", token)).statusCode()).isEqualTo(303);
        assertThat(browser.get("/user/apikey").headers().firstValue("Location").orElseThrow()).startsWith("/login");
    }

    @Test
    void visitorsSeeOnlyWhatTheyMayRead() throws Exception {
        RegistryClient root = BERTH.client().as("root", "root-pw");
        root.push("private/secret", "v1", TestImages.image(1, 100));
        root.push("public/tool", "v1", TestImages.image(1, 100));

        HttpResponse<String> guest = browser.get("/explore");
        assertThat(guest.body()).contains("public/tool").doesNotContain("private/secret");
        assertThat(browser.get("/image/private/secret").headers().firstValue("Location").orElseThrow())
                .as("a guest is asked to sign in").startsWith("/login?next=");

        signIn("bob");
        assertThat(browser.get("/explore").body()).doesNotContain("private/secret");
        HttpResponse<String> denied = browser.get("/image/private/secret");
        HttpResponse<String> missing = browser.get("/image/private/nothing");
        assertThat(denied.statusCode()).isEqualTo(404);
        assertThat(missing.statusCode()).isEqualTo(404);
        assertThat(denied.body().replace("secret", "nothing")).as("no hint that it exists").isEqualTo(missing.body());

        freshBrowser();
        signIn("alice");
        assertThat(browser.get("/explore").body()).contains("private/secret");
        assertThat(browser.get("/image/private/secret?tag=v1").statusCode()).isEqualTo(200);
        assertThat(browser.get("/image/private/secret?tag=nope").statusCode()).isEqualTo(404);
        assertThat(browser.get("/image/private/secret?digest=sha256:zz").statusCode()).isEqualTo(404);
        assertThat(browser.get("/image/..%2F..%2Fetc").statusCode()).isBetween(400, 404);
    }

    @Test
    void whatAnImageSaysIsShownAndEscaped() throws Exception {
        RegistryClient root = BERTH.client().as("root", "root-pw");
        // An image whose config carries markup in a label and its history: shown as text, never run.
        ObjectNode config = JSON.createObjectNode().put("architecture", "arm64").put("os", "linux");
        config.putObject("config").putObject("Labels").put("evil", "<img src=x onerror=alert(1)>");
        config.putArray("history").addObject().put("created_by", "RUN echo '<b>bold</b>'");
        ((ObjectNode) config.get("config")).putArray("Cmd").add("-c").add("cat /hello.txt");
        config.putObject("rootfs").put("type", "layers").putArray("diff_ids");
        byte[] configBytes = TestImages.bytes(config);
        root.pushBlob("team/marked", configBytes);
        ObjectNode manifest = JSON.createObjectNode().put("schemaVersion", 2).put("mediaType", MediaTypes.OCI_MANIFEST);
        manifest.set("config", TestImages.descriptor(TestImages.CONFIG_TYPE, configBytes));
        manifest.putArray("layers");
        byte[] manifestBytes = TestImages.bytes(manifest);
        dev.berth.oci.Digest marked = root.pushManifest("team/marked", "v1", MediaTypes.OCI_MANIFEST, manifestBytes);
        HttpResponse<String> page = browser.get("/image/team/marked?tag=v1");
        assertThat(page.statusCode()).isEqualTo(200);
        assertThat(page.body()).contains("&lt;img src=x onerror=alert(1)&gt;").doesNotContain("<img src=x")
                .contains("&lt;b&gt;bold&lt;/b&gt;").contains(marked.toString()).contains("linux/arm64")
                .as("a command in exec form").contains("<code>[\"-c\",\"cat /hello.txt\"]</code>");

        TestImages.Image amd = TestImages.image(1, 50, MediaTypes.OCI_MANIFEST, "amd64", null, null, Map.of());
        TestImages.Image arm = TestImages.image(1, 50, MediaTypes.OCI_MANIFEST, "arm64", null, null, Map.of());
        root.push("team/multi", amd.digest().toString(), amd);
        root.push("team/multi", arm.digest().toString(), arm);
        TestImages.Image index = TestImages.index(MediaTypes.OCI_INDEX, List.of(amd, arm), List.of("amd64", "arm64"));
        root.push("team/multi", "latest", index);
        HttpResponse<String> tags = browser.get("/image/team/multi");
        assertThat(tags.body()).contains("OCI index").contains("linux/amd64, linux/arm64");
        long indexBytes = index.manifest().length + amd.manifest().length + arm.manifest().length
                + amd.blobs().stream().mapToLong(b -> b.length).sum() + arm.blobs().stream().mapToLong(b -> b.length).sum();
        assertThat(tags.body()).as("an index tag has the size of all its platforms").contains("title=\"" + indexBytes + " bytes\"");
        HttpResponse<String> indexPage = browser.get("/image/team/multi?tag=latest");
        assertThat(indexPage.body()).contains("Platforms").contains("?digest=" + amd.digest());
    }

    @Test
    void anImageHasOneSizeOnEveryPage() throws Exception {
        TestImages.Image image = TestImages.image(2, 300);
        BERTH.client().as("root", "root-pw").push("team/sized", "v1", image);
        long bytes = image.manifest().length + image.blobs().stream().mapToLong(b -> b.length).sum();
        String title = "title=\"" + bytes + " bytes\"";
        assertThat(browser.get("/image/team/sized").body()).as("the tag list").contains(title);
        assertThat(browser.get("/image/team/sized?tag=v1").body()).as("the tag's page").contains(title);
    }

    @Test
    void aMovedTagLeavesItsOldManifestListedAsUntagged() throws Exception {
        RegistryClient root = BERTH.client().as("root", "root-pw");
        TestImages.Image first = TestImages.image(1, 40);
        TestImages.Image second = TestImages.image(1, 41);
        root.push("team/moved", "v1", first);
        root.push("team/moved", "v1", second);
        HttpResponse<String> page = browser.get("/image/team/moved");
        assertThat(page.body()).contains("Untagged").contains("?digest=" + first.digest());
        HttpResponse<String> old = browser.get("/image/team/moved?digest=" + first.digest());
        assertThat(old.body()).contains("data-testid=\"tags\"><span class=\"muted\">none</span>");
        HttpResponse<String> current = browser.get("/image/team/moved?digest=" + second.digest());
        assertThat(current.body()).contains("href=\"/image/team/moved?tag=v1\">v1</a>");
    }

    @Test
    void aThousandTagsArePagedAndQuick() throws Exception {
        RegistryClient root = BERTH.client().as("root", "root-pw");
        TestImages.Image image = TestImages.image(1, 100);
        root.push("team/many", "t0000", image);
        for (int i = 1; i < 1000; i++) {
            assertThat(root.put("/v2/team/many/manifests/" + String.format("t%04d", i), image.manifest(),
                    "Content-Type", MediaTypes.OCI_MANIFEST).status()).isEqualTo(201);
        }
        HttpResponse<String> first = browser.get("/image/team/many");
        assertThat(first.body()).contains("1000 tags").contains(">t0000<").contains(">t0099<").doesNotContain(">t0100<")
                .contains("?after=t0099");
        HttpResponse<String> second = browser.get("/image/team/many?after=t0099");
        assertThat(second.body()).contains(">t0100<").contains(">t0199<").doesNotContain(">t0099<");
        HttpResponse<String> last = browser.get("/image/team/many?after=t0899");
        assertThat(last.body()).contains(">t0999<").doesNotContain("rel=\"next\"");
        // A figure, not an assertion: how long a page of this repository takes (see bench/ for the targets).
        long best = Long.MAX_VALUE;
        for (int i = 0; i < 20; i++) {
            long start = System.nanoTime();
            browser.get("/image/team/many?after=t0500");
            best = Math.min(best, System.nanoTime() - start);
        }
        System.out.printf("tags page of a 1000-tag repository: best of 20 = %.1f ms%n", best / 1e6);
    }
}
