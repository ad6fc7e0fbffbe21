package dev.berth.ui;

import static org.assertj.core.api.Assertions.assertThat;

import dev.berth.config.AccessControlConfig;
import dev.berth.config.AccessControlConfig.Grant;
import dev.berth.config.AccessControlConfig.RepositoryPolicy;
import dev.berth.config.AuthConfig;
import dev.berth.testing.Command;
import dev.berth.testing.TestBerth;
import dev.berth.testing.TestImages;
import java.io.File;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import no.nav.security.mock.oauth2.MockOAuth2Server;
import no.nav.security.mock.oauth2.token.DefaultOAuth2TokenCallback;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The deployment's runbook in a real browser (Debian's headless Chromium, driven through its chromedriver): open
 * Berth, sign in with the OpenID provider, generate an API key on /user/apikey, read it off the page, push with it
 * using skopeo, browse to the image, revoke the key and see the push fail. Screenshots of every page go to
 * {@code target/screenshots}.
 */
class BrowserTest {
    private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    private static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
    private static final Path SCREENSHOTS = Path.of("target", "screenshots");
    private static final MockOAuth2Server IDP = startIdp();
    private static final Set<String> ALL = Set.of("read", "create", "update", "delete");

    @RegisterExtension
    static final TestBerth BERTH = new TestBerth(c -> {
        AuthConfig.OidcProvider authentik = new AuthConfig.OidcProvider("oidc", "Authentik",
                URI.create(IDP.issuerUrl("berth").toString()), "berth-registry", "client-secret",
                List.of("openid", "profile", "email", "groups"), "preferred_username", "groups");
        AuthConfig auth = new AuthConfig(htpasswd(), null, true, Map.of("oidc", authentik), List.of(), Duration.ZERO, null, null,
                Duration.ofDays(90), AuthConfig.DEFAULT_SESSION_TTL);
        AccessControlConfig accessControl = new AccessControlConfig(Map.of("**", new RepositoryPolicy(List.of(
                new Grant(Set.of(), Set.of("artifact-workloads"), Set.of("read", "create")),
                new Grant(Set.of(), Set.of("admins"), ALL)), Set.of("read"), Set.of("read"))),
                new Grant(Set.of("root"), Set.of("admins"), ALL), Map.of(), null);
        return c.withHttp(c.http().withAccess(auth, accessControl));
    });

    @TempDir
    Path work;
    private ChromeDriver browser;

    /** An htpasswd file with one administrator, root:secret. */
    private static Path htpasswd() {
        try {
            Path file = Files.createTempFile("berth-ui", ".htpasswd");
            Files.writeString(file, "root:" + at.favre.lib.crypto.bcrypt.BCrypt.withDefaults()
                    .hashToString(4, "secret".toCharArray()) + "\n");
            file.toFile().deleteOnExit();
            return file;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

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
    void openBrowser() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
                "Debian's chromium and chromium-driver are not installed (.ci/run installs them); skipping");
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        // Headless, and nothing that would reach for the network beyond loopback (this machine has none).
        options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--user-data-dir=" + work.resolve("chromium"));
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(new File(CHROMEDRIVER.toString())).usingAnyFreePort().build();
        browser = new ChromeDriver(service, options);
        browser.manage().timeouts().pageLoadTimeout(Duration.ofSeconds(30));
        browser.manage().window().setSize(new Dimension(1280, 900));
        Files.createDirectories(SCREENSHOTS);
    }

    @AfterEach
    void closeBrowser() {
        if (browser != null) {
            browser.quit();
        }
    }

    private void open(String path) {
        browser.get(BERTH.uri().resolve(path).toString());
    }

    /** The element, once the page that has it has loaded: a click that submits a form returns before that. */
    private WebElement find(By by) {
        return new WebDriverWait(browser, Duration.ofSeconds(15)).until(d -> {
            List<WebElement> found = d.findElements(by);
            return found.isEmpty() ? null : found.get(0);
        });
    }

    private void awaitPath(String expected) {
        try {
            new WebDriverWait(browser, Duration.ofSeconds(15)).until(d -> path().equals(expected));
        } catch (org.openqa.selenium.TimeoutException e) {
            assertThat(path()).isEqualTo(expected);
        }
    }

    private String path() {
        return URI.create(browser.getCurrentUrl()).getPath();
    }

    private void screenshot(String name) throws Exception {
        byte[] png = ((TakesScreenshot) browser).getScreenshotAs(OutputType.BYTES);
        Files.write(SCREENSHOTS.resolve(name + ".png"), png);
    }

    private Command.Result skopeo(String... args) {
        List<String> command = new ArrayList<>(List.of("skopeo", "--insecure-policy"));
        command.addAll(List.of(args));
        return Command.run(work, Map.of("HOME", work.toString()), command);
    }

    @Test
    void theKeyRotationRunbookInABrowser() throws Exception {
        Command.assumeInstalled("skopeo");
        open("/");
        assertThat(path()).isEqualTo("/explore");
        screenshot("01-explore-anonymous");

        // Anonymous visitors see no API keys; asking for the page leads to the sign-in page, and back after it.
        open("/user/apikey");
        assertThat(path()).isEqualTo("/login");
        screenshot("02-login");
        IDP.enqueueCallback(new DefaultOAuth2TokenCallback("berth", "zot-ci", "JWT", List.of("berth-registry"),
                Map.of("preferred_username", "zot-ci", "groups", List.of("artifact-workloads")), 3600));
        find(By.linkText("Sign in with Authentik")).click();
        awaitPath("/user/apikey");
        assertThat(find(By.cssSelector("[data-testid=signed-in-user]")).getText()).isEqualTo("zot-ci");
        screenshot("03-apikeys-empty");

        find(By.id("label")).sendKeys("ci-main");
        find(By.id("scopes")).sendKeys("blumeops/**");
        find(By.cssSelector("form.stack button[type=submit]")).click();
        String key = find(By.cssSelector("[data-testid=new-api-key]")).getText();
        assertThat(key).matches("zak_[0-9a-f]{32}");
        List<WebElement> rows = browser.findElements(By.cssSelector("[data-testid=api-keys] tbody tr"));
        assertThat(rows).hasSize(1);
        assertThat(rows.get(0).getText()).contains("ci-main").contains("blumeops/**");
        screenshot("04-apikeys-generated");
        // Shown once: the page, loaded again, no longer holds it.
        open("/user/apikey");
        assertThat(browser.getPageSource()).doesNotContain(key);

        Path image = work.resolve("image");
        TestImages.Image pushed = TestImages.image(3, 30_000);
        TestImages.writeLayout(image, "v1", pushed, List.of());
        String target = "docker://" + BERTH.hostPort() + "/blumeops/app:1.0.0";
        Command.Result push = skopeo("copy", "--dest-tls-verify=false", "--dest-creds", "zot-ci:" + key,
                "oci:" + image + ":v1", target);
        assertThat(push.exitCode()).as(push.output()).isZero();
        Command.Result outOfScope = skopeo("copy", "--dest-tls-verify=false", "--dest-creds", "zot-ci:" + key,
                "oci:" + image + ":v1", "docker://" + BERTH.hostPort() + "/other/app:1.0.0");
        assertThat(outOfScope.exitCode()).as("the key is limited to blumeops/**").isNotZero();

        open("/explore");
        find(By.linkText("blumeops/app")).click();
        awaitPath("/image/blumeops/app");
        WebElement tag = find(By.cssSelector("[data-testid=tag]"));
        assertThat(tag.getText()).isEqualTo("1.0.0");
        assertThat(browser.getPageSource()).contains(BERTH.hostPort() + "/blumeops/app:1.0.0");
        screenshot("05-repository");
        tag.click();
        assertThat(find(By.cssSelector("[data-testid=digest]")).getText())
                .isEqualTo(pushed.digest().toString());
        assertThat(browser.findElements(By.cssSelector("[data-testid=layers] tbody tr"))).hasSize(3);
        screenshot("06-tag");

        open("/user/apikey");
        find(By.cssSelector("button[aria-label='Revoke ci-main']")).click();
        find(By.xpath("//p[contains(., 'You have no API keys')]"));
        screenshot("07-apikeys-revoked");
        Command.Result revoked = skopeo("copy", "--dest-tls-verify=false", "--dest-creds", "zot-ci:" + key,
                "oci:" + image + ":v1", "docker://" + BERTH.hostPort() + "/blumeops/app:1.0.1");
        assertThat(revoked.exitCode()).as(revoked.output()).isNotZero();
        assertThat(revoked.output().toLowerCase()).containsAnyOf("unauthorized", "authentication required", "401");

        find(By.cssSelector("header form button")).click();
        // Signing out of an OpenID session passes by the provider's end-session page, which sends the browser back.
        new WebDriverWait(browser, Duration.ofSeconds(10)).until(d -> !path().equals("/user/apikey"));
        open("/user/apikey");
        assertThat(path()).as("signed out").isEqualTo("/login");
    }

    @Test
    void passwordSignInAndPagesAtPhoneWidth() throws Exception {
        TestImages.Image image = TestImages.image(1, 1000);
        BERTH.client().as("root", "secret").push("phone/app", "v1", image);
        browser.manage().window().setSize(new Dimension(390, 844));
        open("/login");
        find(By.id("username")).sendKeys("root");
        find(By.id("password")).sendKeys("wrong");
        find(By.cssSelector("form.stack button[type=submit]")).click();
        assertThat(find(By.cssSelector("p.error")).getText()).contains("Wrong username or password");
        find(By.id("password")).sendKeys("secret");
        find(By.cssSelector("form.stack button[type=submit]")).click();
        awaitPath("/explore");
        assertThat(find(By.cssSelector("[data-testid=signed-in-user]")).getText()).isEqualTo("root");
        screenshot("08-explore-phone");
        open("/image/phone/app?tag=v1");
        assertThat(find(By.cssSelector("[data-testid=digest]")).getText()).isEqualTo(image.digest().toString());
        Number overflow = (Number) browser.executeScript(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth;");
        assertThat(overflow.intValue()).as("no sideways scrolling of the page at phone width").isLessThanOrEqualTo(0);
        screenshot("09-tag-phone");
    }
}
