package dev.berth.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.berth.config.SyncConfig;
import dev.berth.config.TlsKeys;
import dev.berth.oci.Digest;
import dev.berth.oci.MediaTypes;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.InputStreamResponseListener;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.client.Response;
import org.eclipse.jetty.client.transport.HttpClientTransportOverHTTP;
import org.eclipse.jetty.io.ClientConnector;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Speaks the distribution API to one upstream registry: anonymous or with credentials, through the registry
 * token flow ({@code WWW-Authenticate: Bearer realm,service,scope}; tokens kept until they expire), with retries
 * and back-off on 429, 5xx and connection errors, fail-over across the upstream's URLs, pooled connections, and
 * timeouts on connecting and on idleness, never on a whole transfer.
 */
public final class UpstreamClient implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(UpstreamClient.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    static final String MANIFEST_ACCEPT = String.join(", ", MediaTypes.OCI_INDEX, MediaTypes.OCI_MANIFEST,
            MediaTypes.DOCKER_MANIFEST_LIST, MediaTypes.DOCKER_MANIFEST);
    private static final Pattern CHALLENGE_PARAM = Pattern.compile("(\\w+)=\"([^\"]*)\"");
    private static final Duration IDLE = Duration.ofSeconds(60);
    private static final int MAX_MANIFEST = 4 * 1024 * 1024;
    private static final int MAX_REDIRECTS = 5;

    private final Mirror mirror;
    private final HttpClient http;
    private final Clock clock;
    private final UpstreamCounter counter;
    private final Map<String, Token> tokens = new ConcurrentHashMap<>();

    private record Token(String value, Instant expires) {
    }

    /** Counts requests, for metrics: upstream, method, status (0 when none came back). */
    @FunctionalInterface
    public interface UpstreamCounter {
        void count(String upstream, String method, int status);
    }

    /** A response whose body is still to be read; closing it releases the connection. */
    public record Streamed(int status, Response response, InputStream body, long length) implements AutoCloseable {
        public String header(String name) {
            return response.getHeaders().get(name);
        }

        @Override
        public void close() {
            try {
                body.close();
            } catch (IOException ignored) {
                // the connection is dropped either way
            }
        }
    }

    /** A manifest as the upstream served it. */
    public record FetchedManifest(String mediaType, String digestHeader, byte[] body) {
    }

    public UpstreamClient(Mirror mirror, Clock clock, UpstreamCounter counter) throws Exception {
        this.mirror = mirror;
        this.clock = clock;
        this.counter = counter;
        SslContextFactory.Client tls = new SslContextFactory.Client(!mirror.config().tlsVerify());
        if (!mirror.config().tlsVerify()) {
            LOG.warn("tlsVerify is false for {}: its certificates are not checked", mirror.name());
        }
        if (mirror.config().certDir() != null) {
            Path dir = mirror.config().certDir();
            tls.setTrustStore(trustStore(dir));
            // zot's certDir: ca.crt to trust, and client.cert + client.key when the upstream wants mutual TLS.
            if (Files.isRegularFile(dir.resolve("client.cert")) && Files.isRegularFile(dir.resolve("client.key"))) {
                tls.setKeyStore(TlsKeys.load(dir.resolve("client.cert"), dir.resolve("client.key")));
                tls.setKeyStorePassword(new String(TlsKeys.PASSWORD));
            }
        }
        ClientConnector connector = new ClientConnector();
        connector.setSslContextFactory(tls);
        connector.setConnectTimeout(Duration.ofSeconds(10));
        connector.setIdleTimeout(IDLE);
        http = new HttpClient(new HttpClientTransportOverHTTP(connector));
        http.setFollowRedirects(false);
        http.setUserAgentField(new org.eclipse.jetty.http.HttpField("User-Agent", "berth/" + dev.berth.Berth.version()));
        http.setMaxConnectionsPerDestination(64);
        // Larger reads from the socket: blobs are big, and each chunk costs a hand-off to the reading thread.
        http.setResponseBufferSize(128 * 1024);
        http.start();
    }

    /**
     * The JDK's trusted CAs plus every {@code *.crt} of a certs directory, as zot adds {@code ca.crt} to the
     * system pool: an upstream with a private CA is trusted without distrusting the public ones.
     */
    private static KeyStore trustStore(Path dir) throws Exception {
        KeyStore store = KeyStore.getInstance("PKCS12");
        store.load(null, null);
        int i = 0;
        TrustManagerFactory system = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        system.init((KeyStore) null);
        for (TrustManager manager : system.getTrustManagers()) {
            if (manager instanceof X509TrustManager x509) {
                for (X509Certificate ca : x509.getAcceptedIssuers()) {
                    store.setCertificateEntry("system" + i++, ca);
                }
            }
        }
        CertificateFactory factory = CertificateFactory.getInstance("X.509");
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*.crt")) {
            for (Path file : files) {
                try (InputStream in = Files.newInputStream(file)) {
                    for (Certificate c : factory.generateCertificates(in)) {
                        store.setCertificateEntry("ca" + i++, c);
                    }
                }
            }
        }
        return store;
    }

    public Mirror mirror() {
        return mirror;
    }

    /** HEAD of a manifest: its digest as the upstream reports it, or null if it reports none. */
    public String headManifest(String repository, String reference) throws UpstreamException {
        try (Streamed r = send("HEAD", "/v2/" + repository + "/manifests/" + reference, MANIFEST_ACCEPT, repository)) {
            expectOk(r, "manifest " + repository + ":" + reference);
            return r.header("Docker-Content-Digest");
        }
    }

    public FetchedManifest getManifest(String repository, String reference) throws UpstreamException {
        try (Streamed r = send("GET", "/v2/" + repository + "/manifests/" + reference, MANIFEST_ACCEPT, repository)) {
            expectOk(r, "manifest " + repository + ":" + reference);
            if (r.length() > MAX_MANIFEST) {
                throw new UpstreamException(UpstreamException.Kind.INVALID, 200, "upstream manifest is larger than 4 MiB");
            }
            byte[] body = r.body().readNBytes(MAX_MANIFEST + 1);
            if (body.length > MAX_MANIFEST) {
                throw new UpstreamException(UpstreamException.Kind.INVALID, 200, "upstream manifest is larger than 4 MiB");
            }
            return new FetchedManifest(MediaTypes.essence(r.header("Content-Type")), r.header("Docker-Content-Digest"), body);
        } catch (IOException e) {
            throw unavailable("reading manifest " + repository + ":" + reference, e);
        }
    }

    /** The size of a blob the upstream holds. */
    public long headBlob(String repository, Digest digest) throws UpstreamException {
        try (Streamed r = send("HEAD", "/v2/" + repository + "/blobs/" + digest, null, repository)) {
            expectOk(r, "blob " + digest);
            return r.length();
        }
    }

    /** Starts a blob download; the caller reads and closes it. */
    public Streamed getBlob(String repository, Digest digest) throws UpstreamException {
        Streamed r = send("GET", "/v2/" + repository + "/blobs/" + digest, null, repository);
        try {
            expectOk(r, "blob " + digest);
            return r;
        } catch (UpstreamException e) {
            r.close();
            throw e;
        }
    }

    /** Every repository in the upstream's catalog (for periodic sync). */
    public List<String> catalog() throws UpstreamException {
        return pages("/v2/_catalog?n=1000", "repositories", null);
    }

    public List<String> tags(String repository) throws UpstreamException {
        return pages("/v2/" + repository + "/tags/list?n=1000", "tags", repository);
    }

    private List<String> pages(String first, String field, String repository) throws UpstreamException {
        List<String> all = new ArrayList<>();
        String next = first;
        for (int page = 0; next != null && page < 10_000; page++) {
            try (Streamed r = send("GET", next, "application/json", repository)) {
                expectOk(r, next);
                JsonNode body = JSON.readTree(r.body().readNBytes(16 * 1024 * 1024));
                body.path(field).forEach(n -> all.add(n.asText()));
                next = nextPage(r.header("Link"));
            } catch (IOException e) {
                throw unavailable("listing " + next, e);
            }
        }
        return all;
    }

    private static String nextPage(String link) {
        if (link == null) {
            return null;
        }
        Matcher m = Pattern.compile("<([^>]+)>\\s*;\\s*rel=\"?next\"?").matcher(link);
        if (!m.find()) {
            return null;
        }
        URI uri = URI.create(m.group(1));
        return uri.getRawPath() + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery());
    }

    private void expectOk(Streamed r, String what) throws UpstreamException {
        if (r.status() == 200) {
            return;
        }
        r.close();
        Duration retryAfter = retryAfter(r.header("Retry-After"));
        // Docker Hub answers 401, not 404, for a repository that does not exist (or that Berth may not see).
        UpstreamException.Kind kind = mirror.isDockerHub() && r.status() == 401
                ? UpstreamException.Kind.NOT_FOUND : UpstreamException.ofStatus(r.status());
        throw new UpstreamException(kind, r.status(), "upstream " + mirror.name() + " answered " + r.status() + " for "
                + what, retryAfter, null);
    }

    // --- sending, with auth, retries and fail-over -----------------------------------------------------------

    /**
     * Sends a request and returns once the response headers are in. Retries on connection errors, 429 and 5xx
     * (up to {@code maxRetries}, with exponential back-off from {@code retryDelay}, or the upstream's
     * {@code Retry-After}), trying the upstream's URLs in turn.
     */
    private Streamed send(String method, String pathAndQuery, String accept, String repository) throws UpstreamException {
        int attempts = 1 + mirror.config().maxRetries();
        UpstreamException last = null;
        for (int attempt = 0; attempt < attempts; attempt++) {
            for (URI base : mirror.config().urls()) {
                try {
                    Streamed r = authorized(method, URI.create(base + pathAndQuery), accept, repository);
                    if (r.status() == 429 || r.status() >= 500) {
                        r.close();
                        last = new UpstreamException(UpstreamException.ofStatus(r.status()), r.status(),
                                "upstream " + mirror.name() + " answered " + r.status(), retryAfter(r.header("Retry-After")), null);
                        continue;
                    }
                    return r;
                } catch (IOException | TimeoutException | ExecutionException e) {
                    counter.count(mirror.name(), method, 0);
                    last = unavailable(method + " " + base + pathAndQuery, e);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw unavailable("interrupted", e);
                }
            }
            if (attempt + 1 < attempts) {
                backOff(attempt, last);
            }
        }
        throw last;
    }

    private void backOff(int attempt, UpstreamException last) {
        Duration delay = mirror.config().retryDelay().multipliedBy(1L << Math.min(attempt, 6));
        if (last != null && last.retryAfter() != null) {
            delay = last.retryAfter();
        }
        Duration capped = delay.compareTo(Duration.ofSeconds(30)) > 0 ? Duration.ofSeconds(30) : delay;
        try {
            Thread.sleep(capped);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Sends once; answers a challenge once (Bearer token or Basic credentials) and follows redirects. */
    private Streamed authorized(String method, URI uri, String accept, String repository)
            throws IOException, TimeoutException, ExecutionException, InterruptedException, UpstreamException {
        String scope = repository == null ? "registry:catalog:*" : "repository:" + repository + ":pull";
        // Tokens and credentials belong to the URL's registry, never to a fail-over one.
        SyncConfig.Login login = mirror.config().login(uri);
        String tokenKey = SyncConfig.authority(uri) + " " + scope;
        String authorization = cachedAuthorization(tokenKey);
        Streamed r = exchange(method, uri, accept, authorization);
        if (r.status() != 401) {
            return r;
        }
        String challenge = r.header("WWW-Authenticate");
        r.close();
        authorization = answer(challenge, scope, tokenKey, login);
        if (authorization == null) {
            return exchange(method, uri, accept, null); // nothing to answer with: let the caller see the 401
        }
        return exchange(method, uri, accept, authorization);
    }

    private String cachedAuthorization(String tokenKey) {
        Token token = tokens.get(tokenKey);
        if (token != null && token.expires().isAfter(clock.instant())) {
            return "Bearer " + token.value();
        }
        return null;
    }

    /** Works out the Authorization header a challenge asks for, fetching a token if it is a Bearer challenge. */
    private String answer(String challenge, String scope, String tokenKey, SyncConfig.Login login) throws UpstreamException {
        if (challenge == null || challenge.regionMatches(true, 0, "Basic", 0, 5)) {
            return basic(login);
        }
        if (!challenge.regionMatches(true, 0, "Bearer", 0, 6)) {
            return null;
        }
        Map<String, String> params = new LinkedHashMap<>();
        Matcher m = CHALLENGE_PARAM.matcher(challenge);
        while (m.find()) {
            params.put(m.group(1).toLowerCase(), m.group(2));
        }
        String realm = params.get("realm");
        if (realm == null) {
            return null;
        }
        String wanted = params.getOrDefault("scope", scope);
        StringBuilder url = new StringBuilder(realm).append(realm.contains("?") ? "&" : "?");
        if (params.containsKey("service")) {
            url.append("service=").append(URLEncoder.encode(params.get("service"), StandardCharsets.UTF_8)).append('&');
        }
        url.append("scope=").append(URLEncoder.encode(wanted, StandardCharsets.UTF_8));
        try (Streamed r = exchange("GET", URI.create(url.toString()), "application/json", basic(login))) {
            if (r.status() != 200) {
                throw new UpstreamException(UpstreamException.Kind.REFUSED, r.status(),
                        "the token service of " + mirror.name() + " answered " + r.status());
            }
            JsonNode body = JSON.readTree(r.body().readNBytes(1024 * 1024));
            String token = body.hasNonNull("token") ? body.get("token").asText() : body.path("access_token").asText(null);
            if (token == null || token.isEmpty()) {
                throw new UpstreamException(UpstreamException.Kind.REFUSED, 200, "the token service of " + mirror.name()
                        + " gave no token");
            }
            long seconds = body.path("expires_in").asLong(60);
            tokens.put(tokenKey, new Token(token, clock.instant().plusSeconds(Math.max(10, seconds - 10))));
            return "Bearer " + token;
        } catch (IOException | TimeoutException | ExecutionException e) {
            throw unavailable("token from " + realm, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw unavailable("interrupted", e);
        }
    }

    private static String basic(SyncConfig.Login login) {
        if (login == null) {
            return null;
        }
        return "Basic " + Base64.getEncoder().encodeToString((login.username() + ":" + login.password())
                .getBytes(StandardCharsets.UTF_8));
    }

    /**
     * One request, following redirects (a blob is often served from a CDN); credentials never follow a
     * redirect to another host.
     */
    private Streamed exchange(String method, URI uri, String accept, String authorization)
            throws IOException, TimeoutException, ExecutionException, InterruptedException {
        URI target = uri;
        String auth = authorization;
        for (int hop = 0; ; hop++) {
            InputStreamResponseListener listener = new InputStreamResponseListener();
            Request request = http.newRequest(target).method(method).idleTimeout(IDLE.toSeconds(), TimeUnit.SECONDS);
            String sendAuth = auth;
            request.headers(h -> {
                if (accept != null) {
                    h.put("Accept", accept);
                }
                if (sendAuth != null) {
                    h.put("Authorization", sendAuth);
                }
            });
            request.send(listener);
            Response response = listener.get(IDLE.toSeconds(), TimeUnit.SECONDS);
            counter.count(mirror.name(), method, response.getStatus());
            int status = response.getStatus();
            if (status >= 300 && status < 400 && status != 304 && hop < MAX_REDIRECTS
                    && response.getHeaders().get("Location") != null) {
                listener.getInputStream().close();
                URI next = target.resolve(response.getHeaders().get("Location"));
                if (!sameOrigin(next, target)) {
                    auth = null;
                }
                target = next;
                continue;
            }
            long length = response.getHeaders().getLongField("Content-Length");
            return new Streamed(status, response, listener.getInputStream(), length);
        }
    }

    private static boolean sameOrigin(URI a, URI b) {
        return a.getScheme().equalsIgnoreCase(b.getScheme()) && a.getHost().equalsIgnoreCase(b.getHost())
                && a.getPort() == b.getPort();
    }

    private static Duration retryAfter(String header) {
        if (header == null) {
            return null;
        }
        try {
            return Duration.ofSeconds(Math.max(0, Long.parseLong(header.strip())));
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /**
     * What went wrong, in words an operator can act on: the innermost cause's message (an unknown CA, a refused
     * connection, a timeout), never a wrapper's class name.
     */
    static String reason(Throwable failure) {
        Throwable root = failure;
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof java.security.cert.CertPathBuilderException
                    || t instanceof java.security.cert.CertPathValidatorException) {
                return "its TLS certificate is not trusted (put its CA in certDir as ca.crt, or set tlsVerify"
                        + " false): " + t.getMessage();
            }
            root = t;
        }
        String message = root.getMessage();
        String kind = root.getClass().getSimpleName();
        return message == null || message.isBlank() ? kind : kind + ": " + message;
    }

    private UpstreamException unavailable(String what, Exception cause) {
        LOG.debug("upstream {}: {} failed: {}", mirror.name(), what, cause.toString());
        return new UpstreamException(UpstreamException.Kind.UNAVAILABLE, 0, "upstream " + mirror.name()
                + " cannot be reached: " + reason(cause), null, cause);
    }

    @Override
    public void close() {
        try {
            http.stop();
        } catch (Exception e) {
            LOG.debug("stopping the upstream client of {} failed", mirror.name(), e);
        }
    }
}
