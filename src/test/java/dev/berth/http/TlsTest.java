package dev.berth.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.berth.Berth;
import dev.berth.config.BerthConfig;
import dev.berth.testing.Command;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code http.tls}: PEM certificate and PKCS#8 key, as zot's config names them. */
class TlsTest {
    @TempDir
    Path dir;

    @BeforeEach
    void makeCertificate() {
        Command.assumeInstalled("openssl");
        Command.ok(dir, Map.of(), List.of("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem",
                "-out", "cert.pem", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"));
    }

    private BerthConfig config(Path key) {
        return new BerthConfig(new BerthConfig.Storage(dir.resolve("data")),
                BerthConfig.defaults().http().withPort(0).withTls(new BerthConfig.Tls(dir.resolve("cert.pem"), key)),
                BerthConfig.defaults().log());
    }

    @Test
    void servesHttps() throws Exception {
        try (Berth berth = Berth.start(config(dir.resolve("key.pem")))) {
            assertThat(berth.uri().getScheme()).isEqualTo("https");
            HttpClient client = HttpClient.newBuilder().sslContext(trusting(dir.resolve("cert.pem"))).build();
            HttpResponse<String> r = client.send(HttpRequest.newBuilder(berth.uri().resolve("/v2/")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.headers().firstValue("Docker-Distribution-API-Version")).hasValue("registry/2.0");
            URI http = URI.create("http://127.0.0.1:" + berth.port() + "/v2/");
            assertThatThrownBy(() -> HttpClient.newHttpClient().send(HttpRequest.newBuilder(http).build(),
                    HttpResponse.BodyHandlers.ofString())).as("no cleartext on a TLS port").isInstanceOf(IOException.class);
        }
    }

    @Test
    void explainsHowToConvertATraditionalKey() {
        Command.ok(dir, Map.of(), List.of("openssl", "rsa", "-traditional", "-in", "key.pem", "-out", "rsa.pem"));
        assertThatThrownBy(() -> Berth.start(config(dir.resolve("rsa.pem"))))
                .isInstanceOf(GeneralSecurityException.class)
                .hasMessageContaining("openssl pkcs8 -topk8 -nocrypt");
        assertThat(dir.resolve("data")).as("nothing is created before the key is known to be usable").doesNotExist();
    }

    private static SSLContext trusting(Path cert) throws Exception {
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        try (InputStream in = Files.newInputStream(cert)) {
            trust.setCertificateEntry("berth", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        factory.init(trust);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, factory.getTrustManagers(), null);
        return context;
    }
}
