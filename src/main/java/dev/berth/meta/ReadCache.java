package dev.berth.meta;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * Answers to the reads on every pull's path (a tag's manifest, a blob's link) kept until the next write: a pull
 * then costs no database round trip. Writes are rare next to reads, so any committed write simply makes every
 * kept answer stale. Each answer carries the write generation it was read under; an answer read while a write
 * committed carries the older generation and is never served. Only this process's writes are seen, which is
 * exact while one process holds the data directory (its lock guarantees that).
 */
final class ReadCache {
    private record Key(String what, String repository, String key) {
    }

    private record Answer(long generation, Object value) {
    }

    private final AtomicLong generation = new AtomicLong();
    private final Cache<Key, Answer> answers = Caffeine.newBuilder().maximumSize(50_000).build();

    @SuppressWarnings("unchecked")
    <T> T get(String what, String repository, String key, Supplier<T> read) {
        Key k = new Key(what, repository, key);
        long current = generation.get();
        Answer kept = answers.getIfPresent(k);
        if (kept != null && kept.generation() == current) {
            return (T) kept.value();
        }
        T value = read.get();
        answers.put(k, new Answer(current, value));
        return value;
    }

    /** Called after every write transaction, committed or not. */
    void written() {
        generation.incrementAndGet();
    }
}
