package dev.berth.proxy;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;

/**
 * Runs at most one piece of work per key at a time; callers that arrive while it runs wait for its result
 * instead of doing the work again (one upstream request for twenty clients asking at once).
 */
final class SingleFlight<K, V> {
    private final ConcurrentHashMap<K, CompletableFuture<V>> flights = new ConcurrentHashMap<>();

    interface Work<V> {
        V run() throws Exception;
    }

    V run(K key, Work<V> work) throws Exception {
        CompletableFuture<V> mine = new CompletableFuture<>();
        CompletableFuture<V> flight = flights.putIfAbsent(key, mine);
        if (flight == null) {
            try {
                V value = work.run();
                mine.complete(value);
                return value;
            } catch (Exception | Error e) {
                mine.completeExceptionally(e);
                throw e;
            } finally {
                flights.remove(key, mine);
            }
        }
        try {
            return flight.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Exception cause) {
                throw cause;
            }
            throw e;
        }
    }

    int inFlight() {
        return flights.size();
    }
}
