package dev.berth.http;

import dev.berth.access.Access;
import dev.berth.access.Action;
import dev.berth.access.Identity;
import dev.berth.oci.ErrorCode;
import dev.berth.oci.Names;
import dev.berth.oci.RegistryException;
import dev.berth.ops.Health;
import dev.berth.ops.Audit;
import dev.berth.ops.Metrics;
import dev.berth.proxy.FetchFailedException;
import dev.berth.proxy.Mirrors;
import dev.berth.proxy.PullThrough;
import dev.berth.registry.Registry;
import java.net.URI;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.eclipse.jetty.http.HttpException;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Maps each request to the handler of its resource, and turns whatever a handler throws into the right answer:
 * a {@link RegistryException} into the spec's JSON error, anything else into a 500 that is logged once.
 */
public final class Router extends Handler.Abstract {
    private static final Logger LOG = LoggerFactory.getLogger(Router.class);

    // Repository names may contain slashes; the greedy name group makes the last resource segment win.
    private static final Pattern MANIFEST = Pattern.compile("/v2/(.+)/manifests/([^/]+)");
    private static final Pattern UPLOADS = Pattern.compile("/v2/(.+)/blobs/uploads/?");
    private static final Pattern UPLOAD = Pattern.compile("/v2/(.+)/blobs/uploads/([^/]+)");
    private static final Pattern BLOB = Pattern.compile("/v2/(.+)/blobs/([^/]+)");
    private static final Pattern TAGS = Pattern.compile("/v2/(.+)/tags/list");
    private static final Pattern REFERRERS = Pattern.compile("/v2/(.+)/referrers/([^/]+)");

    private final Gate gate;
    private final ManifestsHandler manifests;
    private final BlobsHandler blobs;
    private final UploadsHandler uploads;
    private final ListingsHandler listings;
    private final HealthHandler health;
    private final AuthHandler auth;
    /** The web UI, or null when {@code extensions.ui.enable} is false. */
    private final PagesHandler pages;
    private final MetricsHandler metrics;
    private final Metrics counters;
    private final Registry registry;
    private final Audit audit;

    private final Mirrors mirrors;

    /** {@code metrics} is null when metrics are switched off. */
    public Router(Registry registry, PullThrough pullThrough, Access access, Health health, URI externalUrl, boolean tls,
                  Audit audit, Metrics metrics, String metricsPath, boolean ui, java.time.Clock clock) {
        this.gate = new Gate(access);
        this.mirrors = pullThrough.mirrors();
        this.manifests = new ManifestsHandler(registry.manifests(), pullThrough, MemoryBudget.ofHeap(), gate,
                registry.pulls());
        this.blobs = new BlobsHandler(registry.blobs(), pullThrough);
        this.uploads = new UploadsHandler(registry.uploads(), gate);
        this.listings = new ListingsHandler(registry.listings());
        this.health = new HealthHandler(health);
        Cookies cookies = new Cookies(access, externalUrl, tls);
        this.auth = new AuthHandler(gate, externalUrl, cookies);
        this.pages = ui ? new PagesHandler(registry, mirrors, gate, auth, cookies, clock) : null;
        this.metrics = new MetricsHandler(metrics, gate, metricsPath);
        this.counters = metrics;
        this.registry = registry;
        this.audit = audit;
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) {
        Exchange exchange = new Exchange(request, response, callback);
        if (audit.enabled() && Audit.changesState(request.getMethod())) {
            Request.addCompletionListener(request, failure -> audit.record(exchange.identity().display(),
                    exchange.identity().source().name().toLowerCase(java.util.Locale.ROOT), request.getMethod(),
                    exchange.path(), request.getHttpURI().getQuery(), failure == null ? response.getStatus() : 0,
                    Request.getRemoteAddr(request)));
        }
        if (counters != null) {
            long started = System.nanoTime();
            Request.addCompletionListener(request, failure -> {
                int status = failure == null ? response.getStatus() : 500;
                String repository = exchange.repository();
                // Only a repository that exists names a series: an empty referrers list or a new upload session
                // answers 2xx for any name, and a caller must not mint series (and memory) at will.
                boolean named = repository != null && status < 400
                        && (counters.hasSeries(repository) || registry.listings().exists(repository));
                counters.request(request.getMethod(), status, named ? repository : null,
                        MANIFEST.matcher(exchange.path()).matches(), System.nanoTime() - started);
            });
        }
        try {
            refuseAmbiguousRequests(exchange);
            dispatch(exchange);
        } catch (Throwable t) {
            answer(exchange, t);
            if (t instanceof VirtualMachineError fatal) {
                throw fatal;
            }
        }
        return true;
    }

    /** Turns a failure into the answer it deserves: the client's faults are 4xx, only Berth's own are 500s. */
    private static void answer(Exchange ex, Throwable t) {
        if (t instanceof RegistryException e) {
            ex.fail(e);
            return;
        }
        RequestBody.ClientFault fault = causeOfType(t, RequestBody.ClientFault.class);
        if (fault != null) {
            if (fault.disconnected()) {
                LOG.debug("{} {}: the client went away: {}", ex.method(), ex.path(), fault.getCause().toString());
                ex.abort(fault);
            } else {
                ex.fail(RegistryException.of(fault.code, 400, "malformed request body: " + fault.getMessage()));
            }
            return;
        }
        FetchFailedException fetch = causeOfType(t, FetchFailedException.class);
        if (fetch != null) {
            // Already logged where the download failed; the client must not get a whole body, so it gets none.
            LOG.warn("{} {}: {}", ex.method(), ex.path(), fetch.getMessage());
            ex.fail(RegistryException.of(ErrorCode.UNAVAILABLE, 502, fetch.getMessage()));
            return;
        }
        HttpException http = causeOfType(t, HttpException.class);
        if (http != null && http.getCode() >= 400 && http.getCode() < 500) {
            ex.fail(RegistryException.of(ErrorCode.UNSUPPORTED, http.getCode(), "malformed request: " + http.getReason()));
            return;
        }
        LOG.error("{} {} failed", ex.method(), ex.path(), t);
        ex.failInternally(t);
    }

    private static <T> T causeOfType(Throwable t, Class<T> type) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (type.isInstance(c)) {
                return type.cast(c);
            }
        }
        return null;
    }

    /**
     * Path parameters ({@code /v2/a;x/b}) would be dropped silently from the repository name, so a proxy rule on
     * {@code /v2/a/b} could be walked around; transfer codings other than chunked would be stored undecoded.
     */
    private static void refuseAmbiguousRequests(Exchange ex) {
        if (ex.request().getHttpURI().getPath().indexOf(';') >= 0) {
            throw RegistryException.of(ErrorCode.NAME_INVALID, "path parameters (';') are not allowed");
        }
        String coding = ex.header("Transfer-Encoding");
        if (coding != null && !coding.strip().equalsIgnoreCase("chunked")) {
            throw RegistryException.of(ErrorCode.UNSUPPORTED, 501, "transfer coding not supported: " + coding);
        }
    }

    private void dispatch(Exchange ex) throws Exception {
        String path = ex.path();
        if (!path.startsWith("/v2")) {
            if (health.handles(path)) {
                allow(ex, "GET", "HEAD");
                health.handle(ex);
            } else if (path.startsWith(AuthHandler.PREFIX)) {
                auth.handle(ex);
            } else if (metrics.handles(path)) {
                allow(ex, "GET");
                metrics.handle(ex);
            } else if (pages != null && pages.handles(path)) {
                pages.handle(ex);
            } else if (pages != null && pages.wantsPage(ex)) {
                pages.notFoundPage(ex);
            } else {
                throw notFound();
            }
            return;
        }
        addApiVersion(ex);
        if (path.equals("/v2/_zot/ext/mgmt")) {
            allow(ex, "GET");
            auth.mgmt(ex);
            return;
        }
        Identity who = gate.identify(ex);
        ex.identity(who);
        if (path.equals("/v2/") || path.equals("/v2")) {
            allow(ex, "GET", "HEAD");
            ping(ex, who);
            return;
        }
        if (path.equals("/v2/_catalog")) {
            allow(ex, "GET");
            listings.catalog(ex, repository -> gate.may(who, repository, Action.READ));
            return;
        }
        Matcher m;
        String method = ex.method();
        // The action each request needs, as in zot; checked before anything about the repository is revealed.
        if ((m = MANIFEST.matcher(path)).matches()) {
            allow(ex, "GET", "HEAD", "PUT", "DELETE");
            String repository = name(ex, m);
            switch (method) {
                case "PUT" -> {
                    gate.require(who, repository, Action.CREATE, Action.UPDATE);
                    refusePushToMirror(repository);
                }
                case "DELETE" -> gate.require(who, repository, Action.DELETE);
                default -> gate.require(who, repository, Action.READ);
            }
            manifests.handle(ex, repository, m.group(2));
        } else if ((m = UPLOADS.matcher(path)).matches()) {
            allow(ex, "POST");
            String repository = name(ex, m);
            gate.require(who, repository, Action.CREATE);
            refusePushToMirror(repository);
            uploads.start(ex, repository);
        } else if ((m = UPLOAD.matcher(path)).matches()) {
            allow(ex, "GET", "PATCH", "PUT", "DELETE");
            String repository = name(ex, m);
            switch (method) {
                case "PATCH", "PUT" -> {
                    gate.require(who, repository, Action.CREATE);
                    refusePushToMirror(repository);
                }
                case "DELETE" -> gate.require(who, repository, Action.DELETE);
                default -> gate.require(who, repository, Action.READ);
            }
            uploads.session(ex, repository, m.group(2));
        } else if ((m = BLOB.matcher(path)).matches()) {
            allow(ex, "GET", "HEAD", "DELETE");
            String repository = name(ex, m);
            gate.require(who, repository, method.equals("DELETE") ? Action.DELETE : Action.READ);
            blobs.handle(ex, repository, m.group(2));
        } else if ((m = TAGS.matcher(path)).matches()) {
            allow(ex, "GET");
            String repository = name(ex, m);
            gate.require(who, repository, Action.READ);
            listings.tags(ex, repository);
        } else if ((m = REFERRERS.matcher(path)).matches()) {
            allow(ex, "GET");
            String repository = name(ex, m);
            gate.require(who, repository, Action.READ);
            listings.referrers(ex, repository, m.group(2));
        } else {
            throw notFound();
        }
    }

    /**
     * {@code /v2/}: 200 for anyone allowed anywhere. Anonymous callers get a 401 where nothing is readable without
     * signing in, and Docker's client gets one when anonymous and signed-in policies are mixed: it only sends its
     * stored credentials after a 401 here.
     */
    private void ping(Exchange ex, Identity who) {
        if (gate.access().enabled()) {
            ex.header("WWW-Authenticate", gate.challenge());
            if (who.isAnonymous()) {
                String agent = ex.header("User-Agent");
                boolean docker = agent != null && (agent.contains("Docker-Client") || agent.startsWith("docker/"));
                if (!gate.access().policy().anonymousReadable() || (docker && gate.access().policy().mixed())) {
                    throw gate.refusal(who, null, Action.READ);
                }
            }
        }
        ex.send(200, "application/json", Exchange.utf8("{}"));
    }

    static void addApiVersion(Exchange ex) {
        if (ex.path().startsWith("/v2")) {
            ex.header("Docker-Distribution-API-Version", "registry/2.0");
        }
    }

    /**
     * The repository a request means: its name as written, or, for a mirror, the one local repository it stands
     * for (containerd's {@code ?ns=}, names Docker sends without a prefix, Docker Hub's {@code library/}).
     */
    private String name(Exchange ex, Matcher m) {
        String written = Names.requireRepository(m.group(1));
        if (mirrors.isEmpty()) {
            ex.repository(written);
            return written;
        }
        String ns = ex.query("ns");
        String local = mirrors.resolve(written, ns, Request.getServerName(ex.request()));
        if (ns != null) {
            ex.header("OCI-Namespace", ns);
        }
        ex.repository(local);
        return local;
    }

    /** Mirrored repositories hold what their upstream has: they take no pushes. */
    private void refusePushToMirror(String repository) {
        mirrors.owner(repository).ifPresent(mirror -> {
            throw RegistryException.of(ErrorCode.UNSUPPORTED, 405, repository + " mirrors " + mirror.name()
                    + " and takes no pushes; push to a repository of your own");
        });
    }

    /** A HEAD is allowed wherever GET is; anything not listed is a 405 that says what is allowed. */
    static void allow(Exchange ex, String... methods) {
        String method = ex.method();
        Set<String> allowed = Set.of(methods);
        if (allowed.contains(method) || (method.equals("HEAD") && allowed.contains("GET"))) {
            return;
        }
        throw RegistryException.of(ErrorCode.UNSUPPORTED, 405, "method " + method + " not allowed here")
                .withHeader("Allow", String.join(", ", methods));
    }

    private static RegistryException notFound() {
        return RegistryException.of(ErrorCode.UNSUPPORTED, 404, "no such endpoint");
    }
}
