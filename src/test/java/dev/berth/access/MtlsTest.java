package dev.berth.access;

import static org.assertj.core.api.Assertions.assertThat;

import dev.berth.Berth;
import dev.berth.config.AccessControlConfig;
import dev.berth.config.AccessControlConfig.Grant;
import dev.berth.config.AccessControlConfig.RepositoryPolicy;
import dev.berth.config.AuthConfig;
import dev.berth.config.BerthConfig;
import dev.berth.testing.Command;
import java.io.InputStream;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Client certificates from a test CA: the certificate's common name is the user. */
class MtlsTest {
    @TempDir
    Path dir;

    private void openssl(String... args) {
        List<String> command = new java.util.ArrayList<>(List.of("openssl"));
        command.addAll(List.of(args));
        Command.ok(dir, Map.of(), command);
    }

    @Test
    void aClientCertificateSignsTheCallerIn() throws Exception {
        Command.assumeInstalled("openssl");
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
                "-subj", "/CN=Berth Test CA");
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "1",
                "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1");
        for (String who : List.of("ci-bot", "stranger")) {
            openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", who + ".key", "-out", who + ".csr", "-subj", "/CN=" + who);
            openssl("x509", "-req", "-in", who + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                    "-out", who + ".pem", "-days", "1");
            openssl("pkcs12", "-export", "-in", who + ".pem", "-inkey", who + ".key", "-out", who + ".p12", "-passout", "pass:pw");
        }
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "rogue.key", "-out", "rogue.pem", "-days", "1",
                "-subj", "/CN=ci-bot");
        openssl("pkcs12", "-export", "-in", "rogue.pem", "-inkey", "rogue.key", "-out", "rogue.p12", "-passout", "pass:pw");

        AuthConfig auth = new AuthConfig(null, null, false, Map.of(), List.of(), Duration.ZERO, null,
                new AuthConfig.Mtls(List.of("CommonName"), null), null, AuthConfig.DEFAULT_SESSION_TTL);
        AccessControlConfig accessControl = new AccessControlConfig(Map.of("**", new RepositoryPolicy(List.of(
                new Grant(Set.of("ci-bot"), Set.of(), Set.of("read", "create"))), Set.of(), Set.of())),
                Grant.NONE, Map.of(), null);
        BerthConfig defaults = BerthConfig.defaults();
        BerthConfig config = new BerthConfig(new BerthConfig.Storage(dir.resolve("data")),
                defaults.http().withPort(0).withTls(new BerthConfig.Tls(dir.resolve("cert.pem"), dir.resolve("key.pem"),
                        dir.resolve("ca.pem"))).withAccess(auth, accessControl), defaults.log());
        try (Berth berth = Berth.start(config)) {
            assertThat(status(berth, "ci-bot.p12", "POST", "/v2/ci/app/blobs/uploads/")).isEqualTo(202);
            assertThat(status(berth, "ci-bot.p12", "DELETE", "/v2/ci/app/manifests/v1")).isEqualTo(403);
            assertThat(status(berth, "stranger.p12", "POST", "/v2/ci/app/blobs/uploads/")).isEqualTo(403);
            assertThat(status(berth, null, "POST", "/v2/ci/app/blobs/uploads/")).isEqualTo(401);
            assertThat(status(berth, "rogue.p12", "GET", "/v2/ci/app/tags/list"))
                    .as("a certificate the CA did not sign names nobody").isIn(-1, 401);
        }
    }

    /** The status of a request presenting {@code clientKeyStore} (or no certificate), -1 if TLS refuses it. */
    private int status(Berth berth, String clientKeyStore, String method, String path) throws Exception {
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        try (InputStream in = Files.newInputStream(dir.resolve("cert.pem"))) {
            trust.setCertificateEntry("server", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        KeyManagerFactory kmf = null;
        if (clientKeyStore != null) {
            KeyStore keys = KeyStore.getInstance("PKCS12");
            try (InputStream in = Files.newInputStream(dir.resolve(clientKeyStore))) {
                keys.load(in, "pw".toCharArray());
            }
            kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(keys, "pw".toCharArray());
        }
        SSLContext tls = SSLContext.getInstance("TLS");
        tls.init(kmf == null ? null : kmf.getKeyManagers(), tmf.getTrustManagers(), null);
        HttpClient client = HttpClient.newBuilder().sslContext(tls).build();
        try {
            return client.send(HttpRequest.newBuilder(berth.uri().resolve(path)).method(method, HttpRequest.BodyPublishers.noBody())
                    .build(), HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (java.io.IOException refused) {
            return -1;
        }
    }
}
