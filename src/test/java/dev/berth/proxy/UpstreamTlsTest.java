package dev.berth.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.berth.Berth;
import dev.berth.config.AccessControlConfig;
import dev.berth.config.AccessControlConfig.Grant;
import dev.berth.config.AccessControlConfig.RepositoryPolicy;
import dev.berth.config.AuthConfig;
import dev.berth.config.BerthConfig;
import dev.berth.config.SyncConfig;
import dev.berth.testing.Command;
import dev.berth.testing.RegistryClient;
import dev.berth.testing.RegistryClient.Response;
import dev.berth.testing.TestImages;
import dev.berth.testing.TestImages.Image;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An upstream behind TLS with a private CA that only answers callers with a client certificate: zot's
 * {@code certDir} ({@code ca.crt}, {@code client.cert}, {@code client.key}) is what lets Berth in.
 */
class UpstreamTlsTest {
    @TempDir
    Path dir;

    private void openssl(String... args) {
        List<String> command = new ArrayList<>(List.of("openssl"));
        command.addAll(List.of(args));
        Command.ok(dir, Map.of(), command);
    }

    @Test
    void certDirTrustsThePrivateCaAndPresentsTheClientCertificate() throws Exception {
        Command.assumeInstalled("openssl");
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
                "-subj", "/CN=Upstream Test CA");
        for (String[] who : List.of(new String[] {"server", "/CN=127.0.0.1"}, new String[] {"client", "/CN=mirror-bot"})) {
            openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", who[0] + ".key", "-out", who[0] + ".csr",
                    "-subj", who[1]);
            Files.writeString(dir.resolve(who[0] + ".ext"), "subjectAltName=IP:127.0.0.1\n");
            openssl("x509", "-req", "-in", who[0] + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                    "-out", who[0] + ".pem", "-days", "1", "-extfile", who[0] + ".ext");
        }
        Path certs = Files.createDirectories(dir.resolve("certs.d"));
        Files.copy(dir.resolve("ca.pem"), certs.resolve("ca.crt"));
        Files.copy(dir.resolve("client.pem"), certs.resolve("client.cert"));
        Files.copy(dir.resolve("client.key"), certs.resolve("client.key"));
        Path caOnly = Files.createDirectories(dir.resolve("ca-only"));
        Files.copy(dir.resolve("ca.pem"), caOnly.resolve("ca.crt"));

        // The upstream's data: an image pushed while it is open, then served only to mirror-bot over mutual TLS.
        Path upstreamData = dir.resolve("upstream");
        BerthConfig defaults = BerthConfig.defaults();
        Image image = TestImages.image(1, 50_000);
        try (Berth open = Berth.start(new BerthConfig(new BerthConfig.Storage(upstreamData), defaults.http().withPort(0),
                defaults.log()))) {
            new RegistryClient(open.uri()).push("team/app", "1.0", image);
        }
        AuthConfig auth = new AuthConfig(null, null, false, Map.of(), List.of(), Duration.ZERO, null,
                new AuthConfig.Mtls(List.of("CommonName"), null), null, AuthConfig.DEFAULT_SESSION_TTL);
        AccessControlConfig onlyTheBot = new AccessControlConfig(Map.of("**", new RepositoryPolicy(List.of(
                new Grant(Set.of("mirror-bot"), Set.of(), Set.of("read"))), Set.of(), Set.of())), Grant.NONE, Map.of(), null);
        try (Berth upstream = Berth.start(new BerthConfig(new BerthConfig.Storage(upstreamData), defaults.http().withPort(0)
                .withTls(new BerthConfig.Tls(dir.resolve("server.pem"), dir.resolve("server.key"), dir.resolve("ca.pem")))
                .withAccess(auth, onlyTheBot), defaults.log()))) {
            assertThat(pull(upstream.uri(), certs, "a", image)).isEqualTo("200");
            assertThat(pull(upstream.uri(), null, "b", image)).as("the private CA is not trusted without certDir")
                    .isEqualTo("502 its TLS certificate is not trusted");
            assertThat(pull(upstream.uri(), caOnly, "c", image)).as("trusted, but no client certificate")
                    .isEqualTo("502 answered 401");
        }
    }

    /**
     * The status of a cold pull of the upstream's image through a fresh Berth mirroring it with these settings,
     * with the gist of the refusal when there is one.
     */
    private String pull(URI upstream, Path certDir, String name, Image expected) throws Exception {
        SyncConfig sync = new SyncConfig(true, List.of(new SyncConfig.Upstream(List.of(upstream), true, null,
                List.of(new SyncConfig.Content("**", "upstream.example", false, null, null, false)), true, certDir,
                0, Duration.ofMillis(10), Duration.ofMinutes(5), List.of(), List.of(), Map.of())));
        BerthConfig defaults = BerthConfig.defaults();
        try (Berth mirror = Berth.start(new BerthConfig(new BerthConfig.Storage(dir.resolve("mirror-" + name)),
                defaults.http().withPort(0), defaults.log()).withSync(sync))) {
            Response r = new RegistryClient(mirror.uri()).get("/v2/upstream.example/team/app/manifests/1.0");
            if (r.status() == 200) {
                assertThat(r.body()).isEqualTo(expected.manifest());
                return "200";
            }
            assertThat(r.errorCode()).as(r.text()).isEqualTo("UNAVAILABLE");
            String message = r.json().path("errors").path(0).path("message").asText();
            for (String gist : List.of("its TLS certificate is not trusted", "answered 401")) {
                if (message.contains(gist)) {
                    return r.status() + " " + gist;
                }
            }
            return r.status() + " " + message;
        }
    }
}
