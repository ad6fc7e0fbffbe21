package dev.berth.testing;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.berth.oci.Digest;
import dev.berth.oci.DigestAlgorithm;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

/** Plain HTTP against a registry, for tests: every request is spelled out, nothing is hidden. */
public final class RegistryClient {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final URI base;
    private final HttpClient http;
    private final List<String> always;

    public RegistryClient(URI base) {
        this(base, HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10)).followRedirects(HttpClient.Redirect.NEVER).build(), List.of());
    }

    private RegistryClient(URI base, HttpClient http, List<String> always) {
        this.base = base;
        this.http = http;
        this.always = always;
    }

    /** The same client, sending HTTP Basic credentials with every request. */
    public RegistryClient as(String user, String password) {
        String token = java.util.Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
        return new RegistryClient(base, http, List.of("Authorization", "Basic " + token));
    }

    /** The same client, sending these headers with every request (name, value, name, value...). */
    public RegistryClient with(String... headers) {
        List<String> all = new java.util.ArrayList<>(always);
        all.addAll(List.of(headers));
        return new RegistryClient(base, http, all);
    }

    public URI base() {
        return base;
    }

    /** A response with its body read. */
    public record Response(int status, HttpHeaders headers, byte[] body) {
        public String header(String name) {
            return headers.firstValue(name).orElse(null);
        }

        public List<String> headers(String name) {
            return headers.allValues(name);
        }

        public String text() {
            return new String(body, StandardCharsets.UTF_8);
        }

        public JsonNode json() {
            try {
                return JSON.readTree(body);
            } catch (IOException e) {
                throw new AssertionError("not JSON: " + text(), e);
            }
        }

        /** The code of the first error in a spec-format error body. */
        public String errorCode() {
            return json().path("errors").path(0).path("code").asText(null);
        }
    }

    public Response send(String method, String path, HttpRequest.BodyPublisher body, String... headers) {
        HttpRequest.Builder request = HttpRequest.newBuilder(base.resolve(path)).method(method, body)
                .timeout(Duration.ofMinutes(5));
        for (int i = 0; i < always.size(); i += 2) {
            request.header(always.get(i), always.get(i + 1));
        }
        for (int i = 0; i < headers.length; i += 2) {
            request.header(headers[i], headers[i + 1]);
        }
        try {
            HttpResponse<byte[]> response = http.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
            return new Response(response.statusCode(), response.headers(), response.body());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    public Response get(String path, String... headers) {
        return send("GET", path, HttpRequest.BodyPublishers.noBody(), headers);
    }

    public Response head(String path, String... headers) {
        return send("HEAD", path, HttpRequest.BodyPublishers.noBody(), headers);
    }

    public Response delete(String path, String... headers) {
        return send("DELETE", path, HttpRequest.BodyPublishers.noBody(), headers);
    }

    public Response post(String path, byte[] body, String... headers) {
        return send("POST", path, HttpRequest.BodyPublishers.ofByteArray(body), headers);
    }

    public Response put(String path, byte[] body, String... headers) {
        return send("PUT", path, HttpRequest.BodyPublishers.ofByteArray(body), headers);
    }

    public Response patch(String path, byte[] body, String... headers) {
        return send("PATCH", path, HttpRequest.BodyPublishers.ofByteArray(body), headers);
    }

    // --- the common moves, asserted as they go -------------------------------------------------------------

    /** Uploads a blob with a single POST and returns its digest. */
    public Digest pushBlob(String repository, byte[] content) {
        Digest digest = Digest.compute(DigestAlgorithm.SHA256, content);
        Response r = post("/v2/" + repository + "/blobs/uploads/?digest=" + digest, content,
                "Content-Type", "application/octet-stream");
        assertThat(r.status()).as("blob push: %s", r.text()).isEqualTo(201);
        return digest;
    }

    /** Pushes a manifest under {@code reference} (tag or digest) and returns its digest. */
    public Digest pushManifest(String repository, String reference, String mediaType, byte[] content) {
        Response r = put("/v2/" + repository + "/manifests/" + reference, content, "Content-Type", mediaType);
        assertThat(r.status()).as("manifest push: %s", r.text()).isEqualTo(201);
        return Digest.parse(r.header("Docker-Content-Digest"));
    }

    /** Pushes an image's blobs and manifest and returns the manifest digest. */
    public Digest push(String repository, String reference, TestImages.Image image) {
        for (byte[] blob : image.blobs()) {
            pushBlob(repository, blob);
        }
        return pushManifest(repository, reference, image.mediaType(), image.manifest());
    }
}
