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
    private static final Duration ANSWER = Duration.ofSeconds(20);
    private static final int MAX_TOKEN = 16 * 1024;
    private static final int MAX_PAGE = 1024 * 1024;
    private static final int MAX_LISTED = 100_000;
    private static final Duration MAX_BACK_OFF = Duration.ofSeconds(30);

    /** How hard to try: attempts per URL and how long to wait for each answer. */
    private record Patience(int attempts, Duration answerWithin) {
    }

    /** For a tag Berth already has a copy of: the client is better served stale now than fresh in minutes. */
    private static final Patience QUICK = new Patience(1, Duration.ofSeconds(5));
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
    /** An answer with its body still to read; {@code elsewhere}: it came from another host, after a redirect. */
    public record Streamed(int status, Response response, InputStream body, long length, boolean elsewhere)
            implements AutoCloseable {
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
        return headManifest(repository, reference, patient(false));
    }

    /**
     * The same HEAD, asked once per URL and given a few seconds: for revalidating a tag that can be served from
     * the cache if the upstream is slow or down.
     */
    public String checkManifest(String repository, String reference) throws UpstreamException {
        return headManifest(repository, reference, QUICK);
    }

    private String headManifest(String repository, String reference, Patience patience) throws UpstreamException {
        try (Streamed r = send("HEAD", "/v2/" + repository + "/manifests/" + reference, MANIFEST_ACCEPT, repository,
                patience)) {
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

    /**
     * Every entry of a paginated listing, within bounds an upstream cannot talk Berth out of: pages of at most
     * 1 MiB, at most {@link #MAX_LISTED} entries in all.
     */
    private List<String> pages(String first, String field, String repository) throws UpstreamException {
        List<String> all = new ArrayList<>();
        String next = first;
        while (next != null) {
            try (Streamed r = send("GET", next, "application/json", repository)) {
                expectOk(r, next);
                byte[] page = r.body().readNBytes(MAX_PAGE + 1);
                if (page.length > MAX_PAGE) {
                    throw new UpstreamException(UpstreamException.Kind.INVALID, 200, "upstream " + mirror.name()
                            + " sent a listing page larger than 1 MiB");
                }
                JsonNode body = JSON.readTree(page);
                for (JsonNode n : body.path(field)) {
                    if (all.size() >= MAX_LISTED) {
                        throw new UpstreamException(UpstreamException.Kind.INVALID, 200, "upstream " + mirror.name()
                                + " lists more than " + MAX_LISTED + " entries");
                    }
                    all.add(n.asText());
                }
                next = nextPage(r.header("Link"));
            } catch (IOException e) {
                throw unavailable("listing " + next, e);
            }
        }
        return all;
    }

    /** The path and query of the next page, from a {@code Link} header; null when there is none. */
    private String nextPage(String link) throws UpstreamException {
        if (link == null) {
            return null;
        }
        Matcher m = Pattern.compile("<([^>]+)>\\s*;\\s*rel=\"?next\"?").matcher(link);
        if (!m.find()) {
            return null;
        }
        try {
            URI uri = URI.create(m.group(1));
            if (uri.getRawPath() == null || !uri.getRawPath().startsWith("/v2/")) {
                throw new IllegalArgumentException("not a registry path");
            }
            return uri.getRawPath() + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery());
        } catch (IllegalArgumentException e) {
            throw new UpstreamException(UpstreamException.Kind.INVALID, 200, "upstream " + mirror.name()
                    + " sent a Link header that is not a registry URL");
        }
    }

    private void expectOk(Streamed r, String what) throws UpstreamException {
        if (r.status() == 200) {
            return;
        }
        r.close();
        Duration retryAfter = retryAfter(r.header("Retry-After"));
        // Docker Hub answers 401, not 404, for a repository that does not exist (or that Berth may not see).
        UpstreamException.Kind kind = mirror.upstreamIsDockerHub() && r.status() == 401
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
    /**
     * Retries as configured. Small answers (manifests, tags, tokens) get {@link #ANSWER} to begin; blobs get
     * {@link #IDLE}, which also bounds a pause in the middle of a body (never a whole transfer).
     */
    private Patience patient(boolean blob) {
        return new Patience(1 + mirror.config().maxRetries(), blob ? IDLE : ANSWER);
    }

    private Streamed send(String method, String pathAndQuery, String accept, String repository) throws UpstreamException {
        return send(method, pathAndQuery, accept, repository, patient(pathAndQuery.contains("/blobs/")));
    }

    private Streamed send(String method, String pathAndQuery, String accept, String repository, Patience patience)
            throws UpstreamException {
        int attempts = patience.attempts();
        UpstreamException last = null;
        for (int attempt = 0; attempt < attempts; attempt++) {
            for (URI base : mirror.config().urls()) {
                try {
                    Streamed r = authorized(method, URI.create(base + pathAndQuery), accept, repository, patience.answerWithin());
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
                if (last != null && last.retryAfter() != null && last.retryAfter().compareTo(MAX_BACK_OFF) > 0) {
                    break; // asked to come back later than a client would wait: say so now
                }
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
        Duration capped = delay.compareTo(MAX_BACK_OFF) > 0 ? MAX_BACK_OFF : delay;
        try {
            Thread.sleep(capped);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Sends once; answers a challenge once (Bearer token or Basic credentials) and follows redirects. */
    private Streamed authorized(String method, URI uri, String accept, String repository, Duration wait)
            throws IOException, TimeoutException, ExecutionException, InterruptedException, UpstreamException {
        String scope = repository == null ? "registry:catalog:*" : "repository:" + repository + ":pull";
        // Tokens and credentials belong to the URL's registry, never to a fail-over one.
        SyncConfig.Login login = mirror.config().login(uri);
        String tokenKey = SyncConfig.authority(uri) + " " + scope;
        String authorization = cachedAuthorization(tokenKey);
        Streamed r = exchange(method, uri, accept, authorization, wait);
        if (r.status() != 401 || r.elsewhere()) {
            // A challenge from the host a redirect led to is not answered: the credentials and tokens here are
            // the upstream's, and that host is not the upstream.
            return r;
        }
        String challenge = r.header("WWW-Authenticate");
        r.close();
        authorization = answer(challenge, scope, tokenKey, login, wait);
        if (authorization == null) {
            return exchange(method, uri, accept, null, wait); // nothing to answer with: let the caller see the 401
        }
        return exchange(method, uri, accept, authorization, wait);
    }

    private String cachedAuthorization(String tokenKey) {
        Token token = tokens.get(tokenKey);
        if (token != null && token.expires().isAfter(clock.instant())) {
            return "Bearer " + token.value();
        }
        return null;
    }

    /** Works out the Authorization header a challenge asks for, fetching a token if it is a Bearer challenge. */
    private String answer(String challenge, String scope, String tokenKey, SyncConfig.Login login, Duration wait)
            throws UpstreamException {
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
        URI tokenUrl;
        try {
            tokenUrl = requireHttp(URI.create(url.toString()), "named a token service");
        } catch (IllegalArgumentException | IOException e) {
            throw new UpstreamException(UpstreamException.Kind.INVALID, 401, "upstream " + mirror.name()
                    + " named a token service that is not an http(s) URL");
        }
        try (Streamed r = exchange("GET", tokenUrl, "application/json", basic(login), wait)) {
            if (r.status() != 200) {
                throw new UpstreamException(UpstreamException.Kind.REFUSED, r.status(),
                        "the token service of " + mirror.name() + " answered " + r.status());
            }
            JsonNode body = JSON.readTree(r.body().readNBytes(1024 * 1024));
            String token = body.hasNonNull("token") ? body.get("token").asText() : body.path("access_token").asText(null);
            if (token == null || token.isEmpty() || token.length() > MAX_TOKEN) {
                throw new UpstreamException(UpstreamException.Kind.REFUSED, 200, "the token service of " + mirror.name()
                        + (token == null || token.isEmpty() ? " gave no token" : " gave a token too large to send"));
            }
            // Kept until shortly before it expires, and never more than a day, whatever the service says.
            long seconds = Math.min(Math.max(body.path("expires_in").asLong(60), 20), 86_400);
            tokens.put(tokenKey, new Token(token, clock.instant().plusSeconds(seconds - 10)));
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
    private Streamed exchange(String method, URI uri, String accept, String authorization, Duration wait)
            throws IOException, TimeoutException, ExecutionException, InterruptedException {
        URI target = uri;
        String auth = authorization;
        boolean elsewhere = false;
        for (int hop = 0; ; hop++) {
            InputStreamResponseListener listener = new InputStreamResponseListener();
            Request request = http.newRequest(target).method(method).idleTimeout(wait.toMillis(), TimeUnit.MILLISECONDS);
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
            Response response = listener.get(wait.toMillis(), TimeUnit.MILLISECONDS);
            counter.count(mirror.name(), method, response.getStatus());
            int status = response.getStatus();
            if (status >= 300 && status < 400 && status != 304 && hop < MAX_REDIRECTS
                    && response.getHeaders().get("Location") != null) {
                listener.getInputStream().close();
                URI next = redirectTarget(target, response.getHeaders().get("Location"));
                if (!sameOrigin(next, uri)) {
                    auth = null;
                    elsewhere = true;
                }
                target = next;
                continue;
            }
            long length = response.getHeaders().getLongField("Content-Length");
            return new Streamed(status, response, listener.getInputStream(), length, elsewhere);
        }
    }

    private static boolean sameOrigin(URI a, URI b) {
        return a.getScheme().equalsIgnoreCase(b.getScheme()) && a.getHost() != null
                && a.getHost().equalsIgnoreCase(b.getHost()) && a.getPort() == b.getPort();
    }

    /** Where a redirect points, if it is somewhere Berth may go: an absolute http(s) URL with a host. */
    private URI redirectTarget(URI from, String location) throws IOException {
        URI next;
        try {
            next = from.resolve(location.strip());
        } catch (IllegalArgumentException e) {
            throw new java.net.ProtocolException("upstream " + mirror.name() + " redirected to a malformed location");
        }
        return requireHttp(next, "redirected");
    }

    private URI requireHttp(URI target, String what) throws IOException {
        String scheme = target.getScheme();
        if (scheme == null || !(scheme.equalsIgnoreCase("http") || scheme.equalsIgnoreCase("https"))
                || target.getHost() == null) {
            throw new java.net.ProtocolException("upstream " + mirror.name() + " " + what
                    + " to something other than an http(s) URL with a host");
        }
        return target;
    }

    private static Duration retryAfter(String header) {
        if (header == null) {
            return null;
        }
        try {
            long seconds = Long.parseLong(header.strip());
            // Zero or less says nothing; more than an hour is not an answer a client can wait for.
            return seconds <= 0 ? null : Duration.ofSeconds(Math.min(seconds, 3600));
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
        if (root instanceof java.io.EOFException || root instanceof java.nio.channels.ClosedChannelException
                || root.getClass().getName().startsWith("org.eclipse.jetty.")) {
            return "it closed the connection before answering"; // the HTTP client's own words name its internals
        }
        if (root instanceof TimeoutException) {
            return "it did not answer in time";
        }
        String message = root.getMessage();
        String kind = root.getClass().getSimpleName();
        if (message != null && message.length() > 200) {
            message = message.substring(0, 200) + "…";
        }
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
