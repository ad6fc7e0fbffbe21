package dev.berth.http;

import dev.berth.ops.Health;

/** {@code /livez}, {@code /readyz} and {@code /startupz}, for load balancers and orchestrators. No auth. */
final class HealthHandler {
    private final Health health;

    HealthHandler(Health health) {
        this.health = health;
    }

    boolean handles(String path) {
        return path.equals("/livez") || path.equals("/readyz") || path.equals("/startupz");
    }

    void handle(Exchange ex) {
        boolean ok = switch (ex.path()) {
            case "/livez" -> true;
            case "/readyz" -> health.ready();
            default -> health.started();
        };
        ex.send(ok ? 200 : 503, "text/plain; charset=utf-8", Exchange.utf8(ok ? "ok\n" : "not ready\n"));
    }
}
