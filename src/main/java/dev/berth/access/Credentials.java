package dev.berth.access;

import java.security.cert.X509Certificate;
import java.util.List;

/**
 * What a request offers as proof of identity: its Authorization headers, its session cookie (honoured only with
 * zot's {@code X-ZOT-API-CLIENT: zot-ui} header or, for forms, a CSRF token, so that another site cannot ride
 * on it) and a verified client certificate chain.
 */
public record Credentials(List<String> authorization, String sessionToken, boolean sessionAllowed,
                          X509Certificate[] clientCertificates) {
    public Credentials {
        authorization = List.copyOf(authorization);
    }

    public static final Credentials NONE = new Credentials(List.of(), null, false, null);
}
