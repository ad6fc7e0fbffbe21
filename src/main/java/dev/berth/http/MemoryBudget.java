package dev.berth.http;

import dev.berth.oci.ErrorCode;
import dev.berth.oci.RegistryException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * Bounds the memory that request bodies read whole (manifests) may take at once. Blobs stream and need none;
 * a manifest is read, parsed and validated in memory, so many large ones at the same moment could exhaust the
 * heap. A request that cannot get its share within a few seconds is told to come back (429).
 */
final class MemoryBudget {
    /** Parsing a JSON document takes several times its size in objects; reserve that much. */
    static final int PARSE_OVERHEAD = 8;
    private static final int UNIT = 1024;

    private final int total;
    private final Semaphore units;

    MemoryBudget(long bytes) {
        this.total = (int) Math.max(1, Math.min(Integer.MAX_VALUE, bytes / UNIT));
        this.units = new Semaphore(total, true);
    }

    /** A share of the heap: a quarter of it, at least 32 MiB and at most 1 GiB. */
    static MemoryBudget ofHeap() {
        long quarter = Runtime.getRuntime().maxMemory() / 4;
        return new MemoryBudget(Math.max(32L << 20, Math.min(1L << 30, quarter)));
    }

    interface Work<T> {
        T run() throws Exception;
    }

    /** Runs work that holds up to {@code bytes} of body in memory, waiting a little for room if needed. */
    <T> T within(long bytes, Work<T> work) throws Exception {
        int need = (int) Math.min(total, Math.max(1, bytes * PARSE_OVERHEAD / UNIT));
        if (!units.tryAcquire(need, 5, TimeUnit.SECONDS)) {
            throw RegistryException.of(ErrorCode.TOOMANYREQUESTS, 429, "too many large requests at once; retry shortly")
                    .withHeader("Retry-After", "1");
        }
        try {
            return work.run();
        } finally {
            units.release(need);
        }
    }
}
