package dev.berth.ops;

import java.util.function.BooleanSupplier;

/**
 * What the health endpoints report: live as long as the process answers, started once start-up is done, and
 * ready while started and the storage checks pass.
 */
public final class Health {
    private final BooleanSupplier storageOk;
    private volatile boolean started;
    private volatile boolean stopping;

    public Health(BooleanSupplier storageOk) {
        this.storageOk = storageOk;
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
        return started && !stopping && storageOk.getAsBoolean();
    }
}
