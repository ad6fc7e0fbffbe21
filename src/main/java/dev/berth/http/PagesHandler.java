package dev.berth.http;

import com.fasterxml.jackson.databind.JsonNode;
import dev.berth.Berth;
import dev.berth.access.Access;
import dev.berth.access.Action;
import dev.berth.access.Credentials;
import dev.berth.access.Identity;
import dev.berth.access.Sessions;
import dev.berth.access.Tokens;
import dev.berth.config.AuthConfig;
import dev.berth.meta.AccessStore;
import dev.berth.meta.ManifestRecord;
import dev.berth.meta.MetadataStore;
import dev.berth.oci.Digest;
import dev.berth.oci.ErrorCode;
import dev.berth.oci.MediaTypes;
import dev.berth.oci.Names;
import dev.berth.oci.Reference;
import dev.berth.oci.RegistryException;
import dev.berth.proxy.Mirror;
import dev.berth.proxy.Mirrors;
import dev.berth.registry.Registry;
import dev.berth.registry.StoredManifest;
import dev.berth.ui.ImageDetails;
import dev.berth.ui.Pages;
import dev.berth.ui.Views;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.channels.Channels;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Fields;

/**
 * The web UI: sign-in, the API-key page, and browsing repositories, tags and images. Pages are rendered on the
 * server and work without JavaScript. A browser proves who it is with the session cookie alone; every form that
 * changes something carries a token that only a page of Berth's could have put there.
 */
final class PagesHandler {
    private static final String LOGIN_COOKIE = "berth_login";
    private static final int LOGIN_TOKEN_BYTES = 24;
    /** The length of the sign-in form's token as sent (base64 of its bytes): anything shorter was not made here. */
    private static final int LOGIN_TOKEN_LENGTH = LOGIN_TOKEN_BYTES * 4 / 3;
    private static final String STATIC = "/static/";
    private static final int TAGS_PER_PAGE = 100;
    private static final int PLATFORMS_SHOWN = 12;
    private static final int UNTAGGED_SHOWN = 50;
    /** Real multi-platform indexes list a few dozen manifests at most; beyond this their size is not added up. */
    private static final int CHILDREN_SIZED = 64;
    /** Rows of an index's platform table; the rest are counted. */
    private static final int CHILDREN_SHOWN = 500;
    private static final int REPOSITORIES_SHOWN = 500;
    /** Image configs are small; a "config" beyond this is not shown (it is still served to clients as it is). */
    private static final int MAX_CONFIG = 1024 * 1024;
    private static final int MAX_FORM = 64 * 1024;
    private static final String CSP = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:;"
            + " form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
    private static final Map<String, String> ASSETS = Map.of("berth.css", "text/css; charset=utf-8",
            "berth.js", "text/javascript; charset=utf-8");

    private final Registry registry;
    private final Mirrors mirrors;
    private final Gate gate;
    private final Access access;
    private final AuthHandler auth;
    private final Cookies cookies;
    private final Clock clock;
    private final Pages pages = new Pages();
    /** Generate forms already sent, by user and form: a reload must not make a second key. */
    private final com.github.benmanes.caffeine.cache.Cache<String, Boolean> usedForms =
            com.github.benmanes.caffeine.cache.Caffeine.newBuilder().expireAfterWrite(Duration.ofDays(1))
                    .maximumSize(100_000).build();
    private final com.github.benmanes.caffeine.cache.Cache<Digest, IndexFacts> indexes =
            com.github.benmanes.caffeine.cache.Caffeine.newBuilder().maximumSize(10_000).build();

    PagesHandler(Registry registry, Mirrors mirrors, Gate gate, AuthHandler auth, Cookies cookies, Clock clock) {
        this.registry = registry;
        this.mirrors = mirrors;
        this.gate = gate;
        this.access = gate.access();
        this.auth = auth;
        this.cookies = cookies;
        this.clock = clock;
    }

    boolean handles(String path) {
        return path.equals("/") || path.equals("/explore") || path.equals("/login") || path.equals("/logout")
                || path.equals("/user/apikey") || path.startsWith("/image/") || path.startsWith(STATIC);
    }

    void handle(Exchange ex) throws IOException {
        String path = ex.path();
        if (path.startsWith(STATIC)) {
            asset(ex, path.substring(STATIC.length()));
            return;
        }
        Visitor visitor = visitor(ex);
        try {
            switch (path) {
                case "/" -> {
                    Router.allow(ex, "GET");
                    redirect(ex, "/explore");
                }
                case "/explore" -> {
                    Router.allow(ex, "GET");
                    explore(ex, visitor);
                }
                case "/login" -> login(ex, visitor);
                case "/logout" -> {
                    Router.allow(ex, "POST");
                    logout(ex, visitor);
                }
                case "/user/apikey" -> apiKeys(ex, visitor);
                default -> {
                    Router.allow(ex, "GET");
                    image(ex, visitor, path.substring("/image/".length()));
                }
            }
        } catch (RegistryException e) {
            if (e.status() == 405) {
                throw e;
            }
            problem(ex, visitor, e.status(), e.status() == 404 ? "Not found" : "Not possible", e.getMessage());
        }
    }

    /** A browser's request for a path that is neither a page nor the registry API: a page that says so. */
    boolean wantsPage(Exchange ex) {
        String accept = ex.header("Accept");
        return !ex.path().startsWith("/v2/") && !ex.path().equals("/v2") && accept != null && accept.contains("text/html");
    }

    void notFoundPage(Exchange ex) {
        Visitor visitor = visitor(ex);
        problem(ex, visitor, 404, "Not found", "There is no page at " + ex.path() + ".");
    }

    /** Who is looking, and the session that proves it (null for nobody). */
    private record Visitor(Identity identity, AccessStore.Session session) {
        boolean signedIn() {
            return session != null || !identity.isAnonymous();
        }
    }

    private Visitor visitor(Exchange ex) {
        if (!access.enabled()) {
            return new Visitor(Identity.ANONYMOUS, null);
        }
        String token = Cookies.read(ex.request(), Gate.SESSION_COOKIE);
        AccessStore.Session session = token == null ? null : access.sessions().find(token).orElse(null);
        // Pages look at the session and a client certificate only: a browser's cached Basic credentials are the API's.
        Credentials seen = Gate.credentials(ex, true);
        Identity who = access.authenticator().identify(new Credentials(List.of(), session == null ? null : token, true,
                seen.clientCertificates()));
        ex.identity(who);
        // A session whose account is gone proves nothing (the authenticator has closed it).
        return new Visitor(who, who.source() == Identity.Source.SESSION ? session : null);
    }

    // --- browsing --------------------------------------------------------------------------------------------

    private void explore(Exchange ex, Visitor visitor) {
        if (!visitor.signedIn() && signInPossible() && !access.policy().anonymousReadable()) {
            // Nothing is open to guests: the first thing they need is the way in.
            redirect(ex, "/login?next=" + encode("/explore"));
            return;
        }
        String query = trimmed(ex.query("q"), 200);
        String wanted = query.toLowerCase(Locale.ROOT);
        List<Views.RepositoryRow> rows = new ArrayList<>();
        boolean more = false;
        for (MetadataStore.RepositorySummary r : registry.listings().summaries()) {
            if (!r.name().contains(wanted) || !gate.may(visitor.identity(), r.name(), Action.READ)) {
                continue;
            }
            if (rows.size() == REPOSITORIES_SHOWN) {
                more = true;
                break;
            }
            rows.add(new Views.RepositoryRow(r.name(), r.tags(), r.size(), r.lastPush(), upstream(r.name())));
        }
        render(ex, 200, "explore", chrome(visitor, "Repositories", "explore"),
                new Views.Explore(query, rows, more, clock.instant()));
    }

    private void image(Exchange ex, Visitor visitor, String name) {
        if (name.endsWith("/")) {
            name = name.substring(0, name.length() - 1);
        }
        if (name.isEmpty()) {
            redirect(ex, "/explore");
            return;
        }
        String repository;
        try {
            repository = Names.requireRepository(name);
        } catch (RegistryException e) {
            throw notFound("There is no repository named " + name + ".");
        }
        if (!gate.may(visitor.identity(), repository, Action.READ)) {
            if (!visitor.signedIn() && signInPossible()) {
                redirect(ex, "/login?next=" + encode(ex.request().getHttpURI().getPathQuery()));
                return;
            }
            // The same answer as for a repository that does not exist: names are not for guessing.
            throw notFound("There is no repository named " + repository + " that you may read.");
        }
        MetadataStore.RepositorySummary summary = registry.listings().summary(repository)
                .orElseThrow(() -> notFound("There is no repository named " + repository + " that you may read."));
        String tag = ex.query("tag");
        String digest = ex.query("digest");
        if (tag != null || digest != null) {
            Reference reference;
            try {
                reference = tag != null ? Reference.parse(tag) : Reference.of(Digest.parse(digest));
            } catch (RegistryException e) {
                throw notFound("No such tag or digest in " + repository + ".");
            }
            manifest(ex, visitor, repository, reference);
            return;
        }
        String after = ex.query("after");
        List<Views.TagRow> rows = new ArrayList<>();
        List<MetadataStore.TagSummary> tags = registry.listings().tagSummaries(repository, after, TAGS_PER_PAGE + 1);
        for (MetadataStore.TagSummary t : tags.subList(0, Math.min(tags.size(), TAGS_PER_PAGE))) {
            ManifestRecord m = t.manifest();
            List<String> platforms = List.of();
            long size = m.size() + t.blobBytes();
            if (MediaTypes.isIndex(m.mediaType())) {
                platforms = indexFacts(repository, m.digest()).platforms();
                size = pullBytes(repository, m);
            }
            rows.add(new Views.TagRow(t.tag(), m.digest().toString(), dev.berth.ui.Format.kind(kindOf(m)), platforms, size,
                    t.taggedAt(), pullName(ex, repository) + ":" + t.tag()));
        }
        String next = tags.size() > TAGS_PER_PAGE ? rows.get(rows.size() - 1).tag() : null;
        boolean firstPage = after == null || after.isEmpty();
        List<Views.Untagged> untagged = new ArrayList<>();
        if (firstPage) {
            for (ManifestRecord m : registry.listings().untagged(repository, UNTAGGED_SHOWN)) {
                untagged.add(new Views.Untagged(m.digest().toString(), dev.berth.ui.Format.kind(kindOf(m)),
                        pullBytes(repository, m), m.pushedAt()));
            }
        }
        render(ex, 200, "repository", chrome(visitor, repository, "explore"),
                new Views.Repository(repository, upstream(repository), summary.tags(), summary.size(), summary.lastPush(),
                        rows, next, firstPage, clock.instant(), untagged));
    }

    /** An artifact is named by its artifact type; an image or index by its media type. */
    private static String kindOf(ManifestRecord m) {
        String artifact = m.artifactType();
        return artifact == null || artifact.isEmpty() || ImageDetails.isImageConfig(artifact) ? m.mediaType() : artifact;
    }

    private void manifest(Exchange ex, Visitor visitor, String repository, Reference reference) {
        StoredManifest stored;
        ManifestRecord record;
        try {
            record = registry.manifests().find(repository, reference);
            stored = registry.manifests().get(repository, reference);
        } catch (RegistryException e) {
            throw notFound("There is no " + (reference.isDigest() ? "manifest " : "tag ") + reference + " in "
                    + repository + ".");
        }
        JsonNode json = ImageDetails.read(stored.content());
        Views.Layer configBlob = ImageDetails.configDescriptor(json);
        Views.ImageConfig config = Views.ImageConfig.NONE;
        if (configBlob != null && configBlob.size() <= MAX_CONFIG && configBlob.mediaType().endsWith("json")) {
            byte[] configBytes = blob(repository, configBlob.digest(), MAX_CONFIG);
            if (configBytes != null) {
                config = ImageDetails.config(configBytes);
            }
        }
        List<Views.Referrer> referrers = new ArrayList<>();
        for (ManifestRecord r : registry.listings().referrers(repository, stored.digest(), null)) {
            referrers.add(new Views.Referrer(r.digest().toString(), r.artifactType(), r.size(), r.pushedAt()));
        }
        String pull = pullName(ex, repository) + (reference.isDigest() ? "@" + reference.digest() : ":" + reference.tag());
        List<Views.Child> children = ImageDetails.children(json);
        render(ex, 200, "manifest", chrome(visitor, repository + (reference.isDigest() ? "@" : ":") + reference, "explore"),
                new Views.Manifest(repository, reference.toString(), stored.digest().toString(), stored.mediaType(),
                        stored.size(), ImageDetails.artifactType(json), ImageDetails.pretty(stored.content()), config, configBlob,
                        ImageDetails.layers(json), children.subList(0, Math.min(children.size(), CHILDREN_SHOWN)),
                        children.size(), referrers, pull, upstream(repository),
                        pullBytes(repository, record),
                        registry.listings().tagsOf(repository, stored.digest(), TAGS_PER_PAGE)));
    }

    /** What a page shows of an index: its platforms (the first few) and how many manifests it lists. */
    private record IndexFacts(List<String> platforms, int children) {
    }

    /** An index's facts, read once per digest (its bytes never change): a page of index tags stays cheap. */
    private IndexFacts indexFacts(String repository, Digest index) {
        return indexes.get(index, d -> {
            JsonNode json = ImageDetails.read(bytes(repository, d));
            return new IndexFacts(ImageDetails.platforms(json, PLATFORMS_SHOWN), json.path("manifests").size());
        });
    }

    /**
     * What a pull of the manifest moves, or -1 for an index listing more manifests than real ones do: adding those
     * up on every view would let one push make a page (and the database behind it) slow for everyone.
     */
    private long pullBytes(String repository, ManifestRecord m) {
        if (MediaTypes.isIndex(m.mediaType()) && indexFacts(repository, m.digest()).children() > CHILDREN_SIZED) {
            return -1;
        }
        return registry.listings().imageBytes(repository, m.digest()).orElse(-1);
    }

    private byte[] bytes(String repository, Digest digest) {
        try {
            return registry.manifests().get(repository, Reference.of(digest)).content();
        } catch (RegistryException e) {
            return new byte[0];
        }
    }

    /** A small blob's bytes, or null when it is not here (a mirror that has not fetched it yet) or too big. */
    private byte[] blob(String repository, String digest, int limit) {
        try (SeekableByteChannel channel = registry.blobs().open(repository, Digest.parse(digest));
             InputStream in = Channels.newInputStream(channel)) {
            byte[] bytes = in.readNBytes(limit + 1);
            return bytes.length > limit ? null : bytes;
        } catch (RegistryException | IOException | java.io.UncheckedIOException e) {
            return null;
        }
    }

    private String upstream(String repository) {
        return mirrors.owner(repository).map(Mirror::name).orElse(null);
    }

    /** How a client names the repository: the host people reach Berth at, then the name. */
    private String pullName(Exchange ex, String repository) {
        URI origin = auth.origin(ex);
        return origin.getRawAuthority() + "/" + repository;
    }

    // --- signing in and out ----------------------------------------------------------------------------------

    private void login(Exchange ex, Visitor visitor) {
        Router.allow(ex, "GET", "POST");
        String next = localPath(ex.method().equals("POST") ? null : ex.query("next"));
        if (ex.method().equals("GET")) {
            if (visitor.signedIn()) {
                redirect(ex, next);
                return;
            }
            loginPage(ex, visitor, 200, next, null, "");
            return;
        }
        Fields form = form(ex);
        next = localPath(form.getValue("next"));
        String expected = Cookies.read(ex.request(), LOGIN_COOKIE);
        if (expected == null || expected.length() < LOGIN_TOKEN_LENGTH || !same(expected, form.getValue("csrf"))) {
            loginPage(ex, visitor, 403, next, "The sign-in form had expired; please try again.", "");
            return;
        }
        String username = trimmed(form.getValue("username"), 256);
        String password = form.getValue("password") == null ? "" : form.getValue("password");
        Identity who;
        try {
            who = access.authenticator().signIn(username, password);
        } catch (RegistryException e) {
            gate.delay();
            loginPage(ex, visitor, 401, next, "Wrong username or password.", username);
            return;
        }
        Sessions.Opened session = access.sessions().open(who.name(), who.account(), null, who.groups());
        Response.addCookie(ex.response(), cookies.session(session.token(), access.sessions().ttl()));
        Response.addCookie(ex.response(), cookies.strict(LOGIN_COOKIE, "", "/login", Duration.ZERO));
        redirect(ex, next);
    }

    private void loginPage(Exchange ex, Visitor visitor, int status, String next, String error, String username) {
        List<Views.Provider> providers = new ArrayList<>();
        AuthConfig config = access.config();
        boolean passwords = false;
        if (access.enabled()) {
            config.openid().forEach((key, provider) -> providers.add(new Views.Provider(provider.name(),
                    "/zot/auth/login?provider=" + encode(key) + "&callback_ui=" + encode(next))));
            passwords = config.htpasswd() != null || config.ldap() != null;
        }
        String token = Tokens.random(LOGIN_TOKEN_BYTES);
        Response.addCookie(ex.response(), cookies.strict(LOGIN_COOKIE, token, "/login", Duration.ofHours(1)));
        boolean guests = !access.enabled() || access.policy().anonymousReadable();
        render(ex, status, "login", chrome(visitor, "Sign in", "login"),
                new Views.Login(providers, passwords, next, token, error, username, guests));
    }

    private void logout(Exchange ex, Visitor visitor) {
        Fields form = form(ex);
        if (visitor.session() == null) {
            redirect(ex, "/login");
            return;
        }
        requireToken(visitor, form);
        String token = Cookies.read(ex.request(), Gate.SESSION_COOKIE);
        String provider = visitor.session().provider();
        String endSession = provider == null ? null : access.oidc().endSessionUrl(provider,
                auth.origin(ex).resolve("/login")).map(URI::toString).orElse(null);
        access.sessions().close(token);
        Response.addCookie(ex.response(), cookies.session("", Duration.ZERO));
        if (endSession == null) {
            redirect(ex, "/login");
            return;
        }
        // On to the provider to end its session too. Not as a redirect of this form: the pages' CSP lets forms
        // go to Berth alone (form-action 'self'), and browsers hold redirects of a form's answer to it.
        Visitor nobody = new Visitor(Identity.ANONYMOUS, null);
        render(ex, 200, "signedout", chrome(nobody, "Signed out", "").goingTo(endSession),
                new Views.SignedOut(access.config().openid().get(provider).name(), endSession));
    }

    // --- API keys --------------------------------------------------------------------------------------------

    private void apiKeys(Exchange ex, Visitor visitor) {
        Router.allow(ex, "GET", "POST");
        if (!access.enabled() || !access.config().apiKeys()) {
            throw notFound("API keys are not enabled on this registry (http.auth.apikey).");
        }
        if (visitor.session() == null) {
            if (ex.method().equals("POST")) {
                throw RegistryException.of(ErrorCode.DENIED, 403, "Your session has ended; sign in again.");
            }
            redirect(ex, "/login?next=" + encode("/user/apikey"));
            return;
        }
        String owner = visitor.identity().name();
        String secret = null;
        String secretLabel = null;
        String error = null;
        int status = 200;
        if (ex.method().equals("POST")) {
            Fields form = form(ex);
            requireToken(visitor, form);
            String action = String.valueOf(form.getValue("action"));
            try {
                switch (action) {
                    case "create" -> {
                        String label = trimmed(form.getValue("label"), 255);
                        if (label.isEmpty()) {
                            throw RegistryException.of(ErrorCode.UNSUPPORTED, 400, "Give the key a label, such as ci-main.");
                        }
                        String once = form.getValue("once");
                        if (once == null || once.isBlank()) {
                            throw RegistryException.of(ErrorCode.UNSUPPORTED, 400, "This form is out of date; reload the page.");
                        }
                        if (usedForms.asMap().putIfAbsent(visitor.identity().name() + " " + once, Boolean.TRUE) != null) {
                            // A reload posting the form again: the key it made is listed below, its secret shown once.
                            throw RegistryException.of(ErrorCode.UNSUPPORTED, 409, "This form has been sent already; the"
                                    + " key it generated is in the list below. Generate another one if you need it.");
                        }
                        List<String> scopes = new ArrayList<>();
                        for (String line : String.valueOf(form.getValue("scopes") == null ? "" : form.getValue("scopes"))
                                .split("[\\r\\n, ]+")) {
                            if (!line.isBlank()) {
                                scopes.add(line.strip());
                            }
                        }
                        var created = access.apiKeys().create(owner, visitor.identity().account(), label, scopes,
                                expiry(form.getValue("expires")), ex.header("User-Agent"));
                        secret = created.secret();
                        secretLabel = label;
                        status = 201;
                    }
                    case "revoke" -> access.apiKeys().revoke(owner, String.valueOf(form.getValue("id")));
                    case "revoke-all" -> access.apiKeys().revokeAll(owner);
                    default -> throw RegistryException.of(ErrorCode.UNSUPPORTED, 400, "unknown action");
                }
            } catch (RegistryException e) {
                if (e.status() >= 500) {
                    throw e;
                }
                status = e.status() == 409 ? 409 : 400;
                // The API's messages name its JSON fields; this form calls the date "Expires".
                error = e.getMessage().replace("expirationDate", "the expiry date");
            }
            if (secret == null && error == null) {
                // After a revoke, a fresh GET: reloading the page must not post the form again.
                redirect(ex, "/user/apikey");
                return;
            }
        }
        List<Views.ApiKeyRow> rows = new ArrayList<>();
        for (AccessStore.ApiKey key : access.apiKeys().list(owner)) {
            rows.add(new Views.ApiKeyRow(key.id(), key.label(), key.createdAt(), key.expiresAt(), key.lastUsedAt(),
                    key.scopes(), access.apiKeys().expired(key)));
        }
        LocalDate today = LocalDate.ofInstant(clock.instant(), ZoneOffset.UTC);
        Duration max = access.apiKeys().maxLifetime();
        LocalDate latest = max == null ? null : LocalDate.ofInstant(clock.instant().plus(max), ZoneOffset.UTC);
        LocalDate suggested = today.plusDays(90);
        if (latest != null && suggested.isAfter(latest)) {
            suggested = latest;
        }
        render(ex, status, "apikeys", chrome(visitor, "API keys", "apikey"),
                new Views.ApiKeys(owner, rows, secret, secretLabel, error, suggested.toString(),
                        latest == null ? null : latest.toString(), today.plusDays(1).toString(),
                        Tokens.random(16)));
    }

    /** A date from the form: the key expires as that day begins (UTC); empty means never (where allowed). */
    private static Instant expiry(String value) {
        if (value == null || value.isBlank()) {
            return null;
        }
        try {
            return LocalDate.parse(value.strip()).atStartOfDay(ZoneOffset.UTC).toInstant();
        } catch (DateTimeParseException e) {
            throw RegistryException.of(ErrorCode.UNSUPPORTED, 400, "the expiry must be a date such as 2027-03-01");
        }
    }

    // --- the frame, forms and answers ------------------------------------------------------------------------

    private Views.Chrome chrome(Visitor visitor, String title, String section) {
        boolean keys = access.enabled() && access.config().apiKeys() && visitor.session() != null;
        return new Views.Chrome(title, section, visitor.signedIn() ? visitor.identity().name() : null,
                visitor.session() == null ? "" : visitor.session().csrfToken(), keys, signInPossible(), Berth.version(),
                null);
    }

    private boolean signInPossible() {
        AuthConfig config = access.config();
        return access.enabled() && (config.htpasswd() != null || config.ldap() != null || !config.openid().isEmpty());
    }

    /** Forms posted from another site are refused whatever they carry; Berth's own carry the session's token. */
    private Fields form(Exchange ex) {
        // Berth's own forms are same-origin; a sibling subdomain ("same-site") is another site here, since it could
        // have planted the cookies a form is checked against.
        String site = ex.header("Sec-Fetch-Site");
        String origin = ex.header("Origin");
        if ((site != null && !site.equals("same-origin") && !site.equals("none"))
                || (origin != null && !isOwnOrigin(ex, origin))) {
            throw RegistryException.of(ErrorCode.DENIED, 403, "Forms from other sites are not accepted.");
        }
        String type = ex.header("Content-Type");
        if (type == null || !type.toLowerCase(Locale.ROOT).startsWith("application/x-www-form-urlencoded")) {
            throw RegistryException.of(ErrorCode.UNSUPPORTED, 415, "Expected a form.");
        }
        try {
            return ex.formFields(50, MAX_FORM);
        } catch (RuntimeException e) {
            throw RegistryException.of(ErrorCode.UNSUPPORTED, 400, "The form could not be read.");
        }
    }

    /**
     * Whether a browser's Origin names the host this page was served from, or the external URL's. The scheme is
     * not compared: behind a proxy that ends TLS the request arrives as http while the browser says https.
     */
    private boolean isOwnOrigin(Exchange ex, String origin) {
        URI claimed;
        try {
            claimed = new URI(origin);
        } catch (java.net.URISyntaxException e) {
            return false;
        }
        if (claimed.getHost() == null) {
            return false; // "null", sent by sandboxed frames and the like
        }
        String seen = authority(claimed.getHost(), claimed.getPort());
        org.eclipse.jetty.http.HttpURI request = ex.request().getHttpURI();
        URI external = auth.origin(ex);
        return seen.equals(authority(request.getHost(), request.getPort()))
                || seen.equals(authority(external.getHost(), external.getPort()));
    }

    /** host[:port] in lower case, without the ports browsers leave out. */
    private static String authority(String host, int port) {
        String h = host == null ? "" : host.toLowerCase(Locale.ROOT);
        return port <= 0 || port == 80 || port == 443 ? h : h + ":" + port;
    }

    private static void requireToken(Visitor visitor, Fields form) {
        if (visitor.session() == null || !same(visitor.session().csrfToken(), form.getValue("csrf"))) {
            throw RegistryException.of(ErrorCode.DENIED, 403, "This form is out of date or did not come from Berth;"
                    + " reload the page and try again.");
        }
    }

    private static boolean same(String expected, String given) {
        return given != null && Tokens.constantTimeEquals(expected, given);
    }

    /** A path on this registry to go to after signing in; anything else (another site) means the home page. */
    private String localPath(String requested) {
        if (requested == null || requested.isBlank()) {
            return "/explore";
        }
        String checked = auth.returnTo(requested);
        return requested.equals(checked) && checked.startsWith("/") ? checked : "/explore";
    }

    private void render(Exchange ex, int status, String template, Views.Chrome chrome, Object page) {
        byte[] html = pages.render(template, chrome, page);
        secure(ex);
        // Pages differ by who looks, and the key page holds a secret: nothing is kept by browsers or proxies.
        ex.header("Cache-Control", "no-store");
        ex.send(status, "text/html; charset=utf-8", html);
    }

    private void problem(Exchange ex, Visitor visitor, int status, String title, String message) {
        render(ex, status, "problem", chrome(visitor, title, ""), new Views.Problem(status, title, message));
    }

    private static void secure(Exchange ex) {
        ex.header("Content-Security-Policy", CSP)
                .header("X-Frame-Options", "DENY")
                .header("X-Content-Type-Options", "nosniff")
                .header("Referrer-Policy", "same-origin");
    }

    private static void redirect(Exchange ex, String location) {
        secure(ex);
        ex.header("Location", location).header("Cache-Control", "no-store");
        ex.send(303);
    }

    private void asset(Exchange ex, String name) throws IOException {
        Router.allow(ex, "GET");
        String type = ASSETS.get(name);
        if (type == null) {
            throw RegistryException.of(ErrorCode.UNSUPPORTED, 404, "no such file");
        }
        byte[] bytes;
        try (InputStream in = PagesHandler.class.getResourceAsStream("/ui/" + name)) {
            bytes = in.readAllBytes();
        }
        ex.header("Cache-Control", "public, max-age=3600").header("X-Content-Type-Options", "nosniff");
        ex.send(200, type, bytes);
    }

    private static RegistryException notFound(String message) {
        return RegistryException.of(ErrorCode.NAME_UNKNOWN, 404, message);
    }

    private static String trimmed(String value, int max) {
        String s = value == null ? "" : value.strip();
        return s.length() > max ? s.substring(0, max) : s;
    }

    private static String encode(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }
}
