package dev.berth.http;

import dev.berth.access.Access;
import dev.berth.access.Action;
import dev.berth.access.Credentials;
import dev.berth.access.Identity;
import dev.berth.oci.ErrorCode;
import dev.berth.oci.RegistryException;
import dev.berth.registry.TagPolicy;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Request;

/**
 * Where the HTTP layer meets access control: it reads a request's credentials, asks who is calling and whether
 * they may act, and turns a refusal into zot's answers: 401 with a Basic challenge for anonymous callers (and
 * bad credentials), 403 {@code DENIED} for signed-in callers who may not. Refusals wait {@code failDelay} first.
 */
final class Gate {
    static final String SESSION_COOKIE = "session";
    /** zot's convention: a browser session counts only on requests that carry this header, which no form can set. */
    static final String UI_CLIENT_HEADER = "X-ZOT-API-CLIENT";

    private final Access access;

    Gate(Access access) {
        this.access = access;
    }

    Access access() {
        return access;
    }

    /** Who is calling; a 401 with a challenge when the credentials offered are wrong. */
    Identity identify(Exchange ex) {
        if (!access.enabled()) {
            return Identity.ANONYMOUS;
        }
        try {
            return access.authenticator().identify(credentials(ex, fromZotUi(ex)));
        } catch (RegistryException e) {
            delay();
            throw e.withHeader("WWW-Authenticate", challenge());
        }
    }

    /** zot's header for its UI's API calls: a browser session counts on the API only with it (no form can send it). */
    static boolean fromZotUi(Exchange ex) {
        return "zot-ui".equals(ex.header(UI_CLIENT_HEADER));
    }

    static Credentials credentials(Exchange ex, boolean sessionAllowed) {
        Request request = ex.request();
        List<String> authorization = request.getHeaders().getValuesList("Authorization");
        String session = Cookies.read(request, SESSION_COOKIE);
        X509Certificate[] certificates = null;
        if (request.getAttribute(EndPoint.SslSessionData.ATTRIBUTE) instanceof EndPoint.SslSessionData tls) {
            certificates = tls.peerCertificates();
        }
        return new Credentials(authorization, session, sessionAllowed, certificates);
    }

    boolean may(Identity who, String repository, Action action) {
        return access.policy().allows(who, repository, action);
    }

    /** Refuses unless {@code who} may perform one of {@code actions} on the repository. */
    void require(Identity who, String repository, Action... actions) {
        for (Action action : actions) {
            if (may(who, repository, action)) {
                return;
            }
        }
        throw refusal(who, repository, actions[0]);
    }

    /** The refusal {@code who} gets: 401 with a challenge when anonymous, 403 DENIED when signed in. */
    RegistryException refusal(Identity who, String repository, Action action) {
        delay();
        if (who.isAnonymous()) {
            RegistryException e = RegistryException.of(ErrorCode.UNAUTHORIZED, 401, "authentication required");
            return access.enabled() ? e.withHeader("WWW-Authenticate", challenge()) : e;
        }
        if (repository != null && !access.policy().inScope(who, repository)) {
            // The user might, but the key was made for other repositories: say so, or the user looks for a rule.
            return RegistryException.of(ErrorCode.DENIED, 403, "this API key of " + who.display() + " is limited to "
                    + String.join(", ", who.scopes()) + ": it may not " + action.label() + " " + repository);
        }
        return RegistryException.of(ErrorCode.DENIED, 403, who.display() + " may not " + action.label()
                + (repository == null ? "" : " " + repository));
    }

    /** Tag writes as the caller may make them: a new tag needs create, moving one needs update. */
    TagPolicy tagPolicy(Identity who, String repository) {
        return (tag, change) -> {
            switch (change) {
                case CREATE -> require(who, repository, Action.CREATE);
                case MOVE -> {
                    if (!may(who, repository, Action.UPDATE)) {
                        delay();
                        throw who.isAnonymous()
                                ? refusal(who, repository, Action.UPDATE)
                                : RegistryException.of(ErrorCode.DENIED, 403, "tag " + tag + " already exists in "
                                        + repository + " and " + who.display() + " may not update it");
                    }
                }
                case KEEP -> require(who, repository, Action.CREATE, Action.UPDATE);
            }
        };
    }

    String challenge() {
        return "Basic realm=\"" + access.realm().replace("\"", "") + "\"";
    }

    void delay() {
        Duration delay = access.failDelay();
        if (!delay.isZero()) {
            try {
                Thread.sleep(delay);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
