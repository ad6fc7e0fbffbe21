package dev.berth.http;

import dev.berth.access.Access;
import java.net.URI;
import java.time.Duration;
import org.eclipse.jetty.http.HttpCookie;
import org.eclipse.jetty.server.Request;

/** The cookies Berth sets, all HttpOnly and SameSite: one rule for when they are also Secure. */
final class Cookies {
    private final Access access;
    private final URI externalUrl;
    private final boolean tls;

    Cookies(Access access, URI externalUrl, boolean tls) {
        this.access = access;
        this.externalUrl = externalUrl;
        this.tls = tls;
    }

    /** The browser session's cookie; an empty value with a zero age removes it. */
    HttpCookie session(String value, Duration maxAge) {
        return lax(Gate.SESSION_COOKIE, value, "/", maxAge);
    }

    /** A cookie for one path that top-level navigations from elsewhere carry too (an IdP's redirect back). */
    HttpCookie lax(String name, String value, String path, Duration maxAge) {
        return HttpCookie.build(name, value).path(path).httpOnly(true).secure(secure())
                .sameSite(HttpCookie.SameSite.LAX).maxAge(maxAge.toSeconds()).build();
    }

    /** A short-lived cookie for one path, sent back only by same-site requests. */
    HttpCookie strict(String name, String value, String path, Duration maxAge) {
        return HttpCookie.build(name, value).path(path).httpOnly(true).secure(secure())
                .sameSite(HttpCookie.SameSite.STRICT).maxAge(maxAge.toSeconds()).build();
    }

    /** Secure behind TLS or an https external URL, unless {@code secureSession} says otherwise. */
    boolean secure() {
        Boolean configured = access.config() == null ? null : access.config().secureSession();
        if (configured != null) {
            return configured;
        }
        return tls || (externalUrl != null && "https".equals(externalUrl.getScheme()));
    }

    /** The value of the request's last cookie of that name, or null. */
    static String read(Request request, String name) {
        String value = null;
        for (HttpCookie cookie : Request.getCookies(request)) {
            if (name.equals(cookie.getName())) {
                value = cookie.getValue();
            }
        }
        return value;
    }
}
