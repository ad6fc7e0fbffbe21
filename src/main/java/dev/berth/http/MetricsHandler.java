package dev.berth.http;

import dev.berth.access.AccessPolicy;
import dev.berth.access.Action;
import dev.berth.access.Identity;
import dev.berth.oci.ErrorCode;
import dev.berth.oci.RegistryException;
import dev.berth.ops.Metrics;

/** The Prometheus scrape endpoint, protected as zot protects it ({@code accessControl.metrics}). */
final class MetricsHandler {
    private final Metrics metrics;
    private final Gate gate;
    private final String path;

    MetricsHandler(Metrics metrics, Gate gate, String path) {
        this.metrics = metrics;
        this.gate = gate;
        this.path = path;
    }

    boolean handles(String requestPath) {
        return metrics != null && requestPath.equals(path);
    }

    void handle(Exchange ex) {
        Identity who = gate.identify(ex);
        ex.identity(who);
        AccessPolicy.MetricsAccess verdict = gate.access().policy().metricsAccess(who);
        if (verdict != AccessPolicy.MetricsAccess.ALLOWED) {
            if (who.isAnonymous()) {
                throw gate.refusal(who, null, Action.READ);
            }
            gate.delay();
            throw RegistryException.of(ErrorCode.DENIED, 403, who.display() + " may not read " + path
                    + " (accessControl.metrics.users names who may)");
        }
        ex.send(200, "text/plain; version=0.0.4; charset=utf-8", Exchange.utf8(metrics.scrape()));
    }
}
