package dev.berth.ui;

import static org.assertj.core.api.Assertions.assertThat;

import at.favre.lib.crypto.bcrypt.BCrypt;
import dev.berth.config.AccessControlConfig;
import dev.berth.config.AccessControlConfig.Grant;
import dev.berth.config.AccessControlConfig.RepositoryPolicy;
import dev.berth.config.AuthConfig;
import dev.berth.oci.MediaTypes;
import dev.berth.testing.RawHttp;
import dev.berth.testing.RegistryClient;
import dev.berth.testing.TestBerth;
import dev.berth.testing.TestImages;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The pages against what an adversarial review tried: each test pins a fault that was found and fixed. */
class PagesHardeningTest {
    private static final Set<String> ALL = Set.of("read", "create", "update", "delete");
    private static final Path HTPASSWD = htpasswd(List.of("root", "alice", "leaver"));

    @RegisterExtension
    static final TestBerth BERTH = new TestBerth(c -> {
        AuthConfig auth = new AuthConfig(HTPASSWD, null, true, Map.of(), List.of(), Duration.ZERO, null, null, null,
                AuthConfig.DEFAULT_SESSION_TTL);
        AccessControlConfig accessControl = new AccessControlConfig(Map.of(
                "**", new RepositoryPolicy(List.of(), Set.of("read", "create"), Set.of("read")),
                "secret/**", new RepositoryPolicy(List.of(new Grant(Set.of("leaver"), Set.of(), Set.of("read"))),
                        Set.of(), Set.of())),
                new Grant(Set.of("root"), Set.of(), ALL), Map.of(), null);
        return c.withHttp(c.http().withAccess(auth, accessControl));
    });

    private static int writes;
    private PageClient browser;

    private static Path htpasswd(List<String> users) {
        try {
            Path file = Files.createTempFile("berth-hardening", ".htpasswd");
            file.toFile().deleteOnExit();
            writeUsers(file, users);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void writeUsers(Path file, List<String> users) throws IOException {
        StringBuilder text = new StringBuilder();
        for (String user : users) {
            text.append(user).append(':').append(BCrypt.withDefaults().hashToString(4, (user + "-pw").toCharArray()))
                    .append('\n');
        }
        Files.writeString(file, text);
        // A later modification time than before, however quickly the file is rewritten.
        Files.setLastModifiedTime(file, FileTime.from(Instant.now().plusSeconds(++writes)));
    }

    @BeforeEach
    void freshBrowser() {
        browser = new PageClient(BERTH.uri());
    }

    private HttpResponse<String> signIn(String user) throws Exception {
        return browser.signIn(user, "/explore");
    }

    @Test
    void anIndexWithThousandsOfPlatformsStaysOneShortRow() throws Exception {
        RegistryClient root = BERTH.client().as("root", "root-pw");
        TestImages.Image child = TestImages.image(1, 50);
        root.push("team/wide", child.digest().toString(), child);
        List<TestImages.Image> children = new ArrayList<>(Collections.nCopies(3000, child));
        List<String> architectures = new ArrayList<>();
        for (int i = 0; i < 3000; i++) {
            architectures.add("arch" + i + "-" + "x".repeat(300));
        }
        TestImages.Image index = TestImages.index(MediaTypes.OCI_INDEX, children, architectures);
        for (int i = 0; i < 20; i++) {
            root.pushManifest("team/wide", "t" + i, index.mediaType(), index.manifest());
        }
        HttpResponse<String> page = browser.get("/image/team/wide");
        assertThat(page.statusCode()).isEqualTo(200);
        assertThat(page.body()).contains("and 2988 more").doesNotContain("arch12-").doesNotContain("x".repeat(60));
        assertThat(page.body().length()).as("20 rows of index tags").isLessThan(200_000);
        assertThat(page.body()).as("an index of 3000 manifests is not added up on every view").contains(">—<");
        HttpResponse<String> manifest = browser.get("/image/team/wide?tag=t0");
        assertThat(manifest.statusCode()).isEqualTo(200);
        assertThat(manifest.body()).contains("and 2500 more");
        // The manifest's own JSON is shown as it is (at most 4 MiB); its platforms table is cut short.
        assertThat(manifest.body().length()).isLessThan(2 * index.manifest().length);
    }

    @Test
    void noWayBackLeadsToAnotherSite() throws Exception {
        signIn("alice");
        for (String next : List.of("///evil.example.com", "////evil.example.com/x", "/\\evil.example.com",
                "//evil.example.com", "https://evil.example.com/")) {
            HttpResponse<String> r = browser.get("/login?next=" + URLEncoder.encode(next, StandardCharsets.UTF_8));
            assertThat(r.statusCode()).isEqualTo(303);
            assertThat(r.headers().firstValue("Location")).as(next).hasValue("/explore");
        }
        assertThat(browser.get("/login?next=%2Fimage%2Fteam%2Fwide").headers().firstValue("Location")).hasValue("/image/team/wide");
    }

    @Test
    void aSessionEndsWhenItsAccountIsRemoved() throws Exception {
        BERTH.client().as("root", "root-pw").push("secret/app", "prod", TestImages.image(1, 10));
        signIn("leaver");
        assertThat(browser.get("/image/secret/app").statusCode()).isEqualTo(200);
        assertThat(browser.get("/v2/secret/app/tags/list", "X-ZOT-API-CLIENT", "zot-ui").statusCode()).isEqualTo(200);
        try {
            writeUsers(HTPASSWD, List.of("root", "alice"));
            Thread.sleep(1_100); // the file is looked at once a second
            HttpResponse<String> api = browser.get("/v2/secret/app/tags/list", "X-ZOT-API-CLIENT", "zot-ui");
            assertThat(api.statusCode()).as("the session no longer proves anyone").isEqualTo(401);
            HttpResponse<String> page = browser.get("/image/secret/app");
            assertThat(page.statusCode()).as("a guest is sent to sign in").isEqualTo(303);
            assertThat(page.headers().firstValue("Location").orElseThrow()).startsWith("/login");
        } finally {
            writeUsers(HTPASSWD, List.of("root", "alice", "leaver"));
            Thread.sleep(1_100);
        }
        assertThat(browser.get("/image/secret/app").statusCode()).as("the session was closed, not just ignored").isEqualTo(303);
    }

    @Test
    void aKeyExpiringBeyondAnyDateIsRefusedNotAFault() throws Exception {
        signIn("alice");
        String token = PageClient.csrf(browser.get("/user/apikey"));
        for (String date : List.of("+999999999-12-31", "+10000-01-01")) {
            HttpResponse<String> r = browser.post("/user/apikey", Map.of("csrf", token, "action", "create", "label", "far",
                    "expires", date, "once", date));
            assertThat(r.statusCode()).as(date).isEqualTo(400);
            assertThat(r.body()).contains("too far in the future");
        }
        assertThat(BERTH.client().as("alice", "alice-pw").get("/zot/auth/apikey").json().path("apiKeys").size()).isZero();
    }

    @Test
    void anotherSiteCannotSignPeopleOut() throws Exception {
        // A cross-site form arrives without the SameSite cookie: its answer must not clear the cookie either.
        HttpResponse<String> cookieless = browser.post("/zot/auth/logout", Map.of(), "Sec-Fetch-Site", "cross-site");
        assertThat(cookieless.statusCode()).isEqualTo(403);
        assertThat(cookieless.headers().allValues("Set-Cookie")).isEmpty();
        signIn("alice");
        HttpResponse<String> forged = browser.post("/zot/auth/logout", Map.of(), "Sec-Fetch-Site", "cross-site");
        assertThat(forged.statusCode()).isEqualTo(403);
        HttpResponse<String> noHeader = browser.post("/zot/auth/logout", Map.of());
        assertThat(noHeader.statusCode()).isEqualTo(403);
        assertThat(browser.get("/user/apikey").statusCode()).as("still signed in").isEqualTo(200);
        HttpResponse<String> ui = browser.post("/zot/auth/logout", Map.of(), "X-ZOT-API-CLIENT", "zot-ui");
        assertThat(ui.statusCode()).isEqualTo(200);
        assertThat(browser.get("/user/apikey").statusCode()).isEqualTo(303);
    }

    @Test
    void theSignInFormTakesOnlyItsOwnToken() throws Exception {
        HttpRequest.Builder planted = HttpRequest.newBuilder(BERTH.uri().resolve("/login"))
                .header("Content-Type", "application/x-www-form-urlencoded").header("Cookie", "berth_login=")
                .POST(HttpRequest.BodyPublishers.ofString("csrf=&username=alice&password=alice-pw"));
        HttpResponse<String> empty = browser.send(planted);
        assertThat(empty.statusCode()).isEqualTo(403);
        assertThat(empty.headers().allValues("Set-Cookie")).noneMatch(c -> c.startsWith("session=") && !c.startsWith("session=;"));

        HttpResponse<String> sibling = browser.post("/login", Map.of("csrf", PageClient.csrf(browser.get("/login")), "username", "alice",
                "password", "alice-pw"), "Sec-Fetch-Site", "same-site");
        assertThat(sibling.statusCode()).as("a sibling subdomain's form").isEqualTo(403);
        HttpResponse<String> own = browser.post("/login", Map.of("csrf", PageClient.csrf(browser.get("/login")), "username", "alice",
                "password", "alice-pw"), "Sec-Fetch-Site", "same-origin");
        assertThat(own.statusCode()).isEqualTo(303);
    }

    @Test
    void errorsThatQuoteTheRequestAreNeverSniffed() throws Exception {
        HttpResponse<String> r = browser.get("/zot/auth/login?provider=%3Cscript%3Ealert(1)%3C%2Fscript%3E");
        assertThat(r.statusCode()).isGreaterThanOrEqualTo(400);
        assertThat(r.headers().firstValue("X-Content-Type-Options")).hasValue("nosniff");
    }

    private static String once(HttpResponse<String> page) {
        Matcher m = Pattern.compile("name=\"once\" value=\"([^\"]+)\"").matcher(page.body());
        assertThat(m.find()).as("the generate form in %s", page.body()).isTrue();
        return m.group(1);
    }

    // --- from a new user's trial --------------------------------------------------------------------------------

    @Test
    void reloadingAfterGeneratingAKeyMakesNoSecondOne() throws Exception {
        signIn("alice");
        HttpResponse<String> page = browser.get("/user/apikey");
        Map<String, String> form = Map.of("csrf", PageClient.csrf(page), "once", once(page), "action", "create", "label", "ci");
        assertThat(browser.post("/user/apikey", form).statusCode()).isEqualTo(201);
        HttpResponse<String> again = browser.post("/user/apikey", form);
        assertThat(again.statusCode()).isEqualTo(409);
        assertThat(again.body()).contains("sent already").doesNotContainPattern("zak_[0-9a-f]{32}");
        assertThat(BERTH.client().as("alice", "alice-pw").get("/zot/auth/apikey").json().path("apiKeys").size()).isEqualTo(1);

        HttpResponse<String> unlabelled = browser.post("/user/apikey", Map.of("csrf", PageClient.csrf(again), "once", once(again),
                "action", "create", "label", " "));
        assertThat(unlabelled.statusCode()).isEqualTo(400);
        assertThat(unlabelled.body()).contains("Give the key a label");
        HttpResponse<String> past = browser.post("/user/apikey", Map.of("csrf", PageClient.csrf(again), "once", "past",
                "action", "create", "label", "old", "expires", "2001-01-01"));
        assertThat(past.body()).as("the form's words, not the API's").contains("the expiry date must be in the future");
        assertThat(browser.post("/user/apikey", Map.of("action", "revoke-all", "csrf", PageClient.csrf(again))).statusCode()).isEqualTo(303);
    }

    @Test
    void aFormFromAnotherOriginIsRefusedEvenWithItsToken() throws Exception {
        signIn("alice");
        HttpResponse<String> page = browser.get("/user/apikey");
        Map<String, String> form = Map.of("csrf", PageClient.csrf(page), "once", once(page), "action", "create", "label", "x");
        assertThat(browser.post("/user/apikey", form, "Origin", "https://evil.example").statusCode()).isEqualTo(403);
        assertThat(browser.post("/user/apikey", form, "Origin", "null").statusCode()).isEqualTo(403);
        assertThat(browser.post("/user/apikey", form, "Origin", "http://" + BERTH.hostPort() + ".evil.example").statusCode())
                .isEqualTo(403);
        // Behind a proxy that ends TLS the browser says https while the request arrives as http: the host decides.
        String own = "https://" + BERTH.hostPort();
        assertThat(browser.post("/user/apikey", form, "Origin", own).statusCode()).isEqualTo(201);
        assertThat(browser.post("/user/apikey", Map.of("action", "revoke-all", "csrf", PageClient.csrf(page))).statusCode()).isEqualTo(303);
    }

    @Test
    void aFormRefusedBeforeItsBodyArrivedLeavesTheConnectionUsable() throws Exception {
        // The answer is known from the headers alone; the client is still sending the body when it comes. A client
        // reusing the connection afterwards must find it open (or be told it closes): found by a CI run.
        String body = "user=alice&password=alice-pw";
        try (RawHttp http = new RawHttp(BERTH.uri())) {
            http.send("POST /login HTTP/1.1\r\nHost: " + BERTH.hostPort() + "\r\nOrigin: https://evil.example\r\n"
                    + "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " + body.length() + "\r\n\r\n");
            Thread.sleep(300);
            http.send(body);
            String refused = http.response();
            assertThat(RawHttp.status(refused)).isEqualTo(403);
            assertThat(refused.toLowerCase()).doesNotContain("connection: close");
            http.send("GET /v2/ HTTP/1.1\r\nHost: " + BERTH.hostPort() + "\r\n\r\n");
            assertThat(RawHttp.status(http.response())).as("the next request on the same connection").isEqualTo(200);
        }
    }

    @Test
    void aFormRefusedWhileItsBodyNeverCompletesIsAnsweredPromptlyAndTheConnectionClosed() throws Exception {
        // Found by a review: waiting for the rest of a body nobody needs held the answer until the idle timeout.
        try (RawHttp http = new RawHttp(BERTH.uri())) {
            http.send("POST /login HTTP/1.1\r\nHost: " + BERTH.hostPort() + "\r\nOrigin: https://evil.example\r\n"
                    + "Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nuser=\r\n");
            String refused = http.response(); // RawHttp gives up after 15 s, well before Jetty's idle timeout
            assertThat(RawHttp.status(refused)).isEqualTo(403);
            assertThat(refused.toLowerCase()).contains("connection: close");
        }
    }

    @Test
    void aClientWaitingFor100ContinueIsNotAskedForABodyTheAnswerDoesNotNeed() throws Exception {
        try (RawHttp http = new RawHttp(BERTH.uri())) {
            http.send("POST /login HTTP/1.1\r\nHost: " + BERTH.hostPort() + "\r\nOrigin: https://evil.example\r\n"
                    + "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1073741824\r\n"
                    + "Expect: 100-continue\r\n\r\n");
            String refused = http.response();
            assertThat(refused).as("no 100 Continue first").startsWith("HTTP/1.1 403");
            assertThat(refused.toLowerCase()).contains("connection: close");
        }
    }

    @Test
    void signingInLeadsBackToTheVeryPageAskedFor() throws Exception {
        BERTH.client().as("root", "root-pw").push("secret/app", "prod", TestImages.image(1, 10));
        HttpResponse<String> asked = browser.get("/image/secret/app?tag=prod");
        assertThat(asked.statusCode()).isEqualTo(303);
        String location = asked.headers().firstValue("Location").orElseThrow();
        assertThat(java.net.URLDecoder.decode(location, StandardCharsets.UTF_8)).isEqualTo("/login?next=/image/secret/app?tag=prod");
        HttpResponse<String> login = browser.get(location);
        HttpResponse<String> done = browser.post("/login", Map.of("csrf", PageClient.csrf(login), "username", "leaver",
                "password", "leaver-pw", "next", "/image/secret/app?tag=prod"));
        assertThat(done.headers().firstValue("Location")).hasValue("/image/secret/app?tag=prod");
    }

    @Test
    void browsersGetPagesWhereThereIsNothing() throws Exception {
        HttpResponse<String> page = browser.get("/favicon.ico", "Accept", "text/html,*/*");
        assertThat(page.statusCode()).isEqualTo(404);
        assertThat(page.headers().firstValue("Content-Type").orElseThrow()).startsWith("text/html");
        HttpResponse<String> api = browser.get("/v2/nothing/here/at/all", "Accept", "text/html");
        assertThat(api.statusCode()).isEqualTo(404);
        assertThat(api.headers().firstValue("Content-Type").orElseThrow()).as("the API answers in JSON").startsWith("application/json");
        assertThat(browser.get("/image/").headers().firstValue("Location")).hasValue("/explore");
        BERTH.client().as("root", "root-pw").push("team/slash", "v1", TestImages.image(1, 10));
        assertThat(browser.get("/image/team/slash/").statusCode()).isEqualTo(200);
    }

    @Test
    void aNewPasswordEndsTheSessionsOpenedWithTheOldOne() throws Exception {
        signIn("alice");
        assertThat(browser.get("/user/apikey").statusCode()).isEqualTo(200);
        writeUsers(HTPASSWD, List.of("root", "alice", "leaver")); // every entry gets a new hash
        Thread.sleep(1_100); // the file is looked at once a second
        assertThat(browser.get("/user/apikey").statusCode()).as("signed out").isEqualTo(303);
        signIn("alice");
        assertThat(browser.get("/user/apikey").statusCode()).as("a new sign-in works").isEqualTo(200);
    }

    @Test
    void pagesAnswerARequestForAnIpv6Host() throws Exception {
        BERTH.client().as("root", "root-pw").push("team/v6", "v1", TestImages.image(1, 10));
        try (java.net.Socket socket = new java.net.Socket(BERTH.uri().getHost(), BERTH.uri().getPort())) {
            socket.getOutputStream().write(("GET /image/team/v6 HTTP/1.1\r\nHost: [::1]:" + BERTH.uri().getPort()
                    + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            String answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(answer).startsWith("HTTP/1.1 200").contains("[::1]:" + BERTH.uri().getPort() + "/team/v6:v1");
        }
    }
}
