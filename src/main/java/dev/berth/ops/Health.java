package dev.berth.ops;

import java.util.function.BooleanSupplier;

/**
 * What the health endpoints report: live as long as the process answers, started once start-up is done, and
 * ready while started and the storage checks pass (the data directory, and the database and bucket where those
 * are remote: a node that cannot reach them is taken out of a load balancer's rotation).
 */
public final class Health {
    /** How long a storage check's answer stands: probes are unauthenticated and must not become load. */
    private static final long CHECK_EVERY_NANOS = 2_000_000_000L;

    private final BooleanSupplier storageOk;
    private volatile boolean started;
    private volatile boolean stopping;
    private volatile boolean lastCheck;
    private volatile long checkedAt;
    private boolean checkedOnce;

    public Health(BooleanSupplier storageOk) {
        this.storageOk = storageOk;
    }

    /** The storage checks, asked at most every two seconds. */
    private synchronized boolean storageOk() {
        long now = System.nanoTime();
        if (!checkedOnce || now - checkedAt > CHECK_EVERY_NANOS) {
            boolean ok;
            try {
                ok = storageOk.getAsBoolean();
            } catch (RuntimeException e) {
                ok = false;
            }
            lastCheck = ok;
            checkedAt = System.nanoTime();
            checkedOnce = true;
        }
        return lastCheck;
    }

    public void markStarted() {
        started = true;
    }

    /** Shutting down: stop taking new traffic from load balancers while in-flight requests finish. */
    public void markStopping() {
        stopping = true;
    }

    public boolean started() {
        return started;
    }

    public boolean ready() {
        return started && !stopping && storageOk();
    }
}
