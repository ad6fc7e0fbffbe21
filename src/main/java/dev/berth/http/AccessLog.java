package dev.berth.http;

import dev.berth.access.Identity;
import java.util.regex.Pattern;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.RequestLog;
import org.eclipse.jetty.server.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One line per request on logger {@code berth.access}: client, user, request line, status, bytes sent, time and
 * user agent. Query parameters that carry secrets (an OpenID authorization code and state) are masked.
 */
final class AccessLog implements RequestLog {
    private static final Logger LOG = LoggerFactory.getLogger("berth.access");
    private static final Pattern SECRETS = Pattern.compile("(?i)((?:^|&)(?:code|state|session_state|token|access_token|id_token)=)[^&]*");
    static final String IDENTITY_ATTRIBUTE = "berth.identity";

    @Override
    public void log(Request request, Response response) {
        if (!LOG.isInfoEnabled()) {
            return;
        }
        if ("/badMessage".equals(request.getHttpURI().getPath()) && !LOG.isDebugEnabled()) {
            // Bytes that were not HTTP at all: most often a client trying TLS on a plain port before falling back
            // (skopeo with --tls-verify=false does). Worth a line only when debugging.
            return;
        }
        String query = request.getHttpURI().getQuery();
        String target = request.getHttpURI().getPath() + (query == null ? "" : "?" + SECRETS.matcher(query).replaceAll("$1***"));
        String user = request.getAttribute(IDENTITY_ATTRIBUTE) instanceof Identity who ? who.display() : "-";
        long millis = (System.nanoTime() - request.getBeginNanoTime()) / 1_000_000;
        String agent = request.getHeaders().get("User-Agent");
        LOG.info("{} {} \"{} {} {}\" {} {} {}ms \"{}\"", Request.getRemoteAddr(request), escape(user), request.getMethod(),
                escape(target), request.getConnectionMetaData().getProtocol(), response.getStatus(),
                Response.getContentBytesWritten(response), millis, agent == null ? "-" : escape(agent));
    }

    /** Quotes and control characters from a client must not forge fields or lines of the log. */
    private static String escape(String s) {
        StringBuilder out = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') {
                out.append('\\').append(c);
            } else if (c < 0x20 || c == 0x7f) {
                out.append(String.format("\\x%02x", (int) c));
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }
}
