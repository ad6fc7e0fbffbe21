package dev.berth.access;

import at.favre.lib.crypto.bcrypt.BCrypt;
import at.favre.lib.crypto.bcrypt.LongPasswordStrategies;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An htpasswd file of bcrypt hashes ({@code htpasswd -B}: {@code $2y$}, {@code $2b$}, {@code $2a$}), read again
 * whenever it changes on disk. Unknown users cost a bcrypt comparison too, so timing does not tell who exists.
 */
final class Htpasswd {
    private static final Logger LOG = LoggerFactory.getLogger(Htpasswd.class);
    /** htpasswd uses the first 72 bytes of a password, as bcrypt defines; longer ones are cut the same way. */
    private static final BCrypt.Verifyer VERIFYER = BCrypt.verifyer(BCrypt.Version.VERSION_2Y,
            LongPasswordStrategies.truncate(BCrypt.Version.VERSION_2Y));

    private final Path file;
    private volatile Map<String, String> hashes = Map.of();
    /** A real hash of a random password at the file's usual cost, compared against for unknown users. */
    private volatile String decoy;
    private volatile long checkedAt;
    private volatile Object stamp;
    private volatile long generation;
    /** When each user's entry last changed (added again, new password) while Berth ran; sessions from before end. */
    private volatile Map<String, java.time.Instant> changedAt = Map.of();

    Htpasswd(Path file) throws IOException {
        this.file = file;
        reload(true);
    }

    /** Changes whenever the file is re-read, so that cached verdicts can be told apart. */
    long generation() {
        reloadIfChanged();
        return generation;
    }

    boolean verify(String user, String password) {
        reloadIfChanged();
        String hash = hashes.get(user);
        BCrypt.Result result = VERIFYER.verify(password.getBytes(java.nio.charset.StandardCharsets.UTF_8),
                (hash == null ? decoy : hash).getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        return hash != null && result.verified;
    }

    private void reloadIfChanged() {
        long now = System.nanoTime();
        if (now - checkedAt < 1_000_000_000L) {
            return;
        }
        checkedAt = now;
        try {
            reload(false);
        } catch (IOException e) {
            LOG.warn("cannot re-read {}: {}; keeping the users read before", file, e.getMessage());
        }
    }

    /** A decoy at the most common cost among the users' hashes, so that timing tells nothing. */
    private static String decoy(java.util.Collection<String> hashes) {
        Map<Integer, Integer> costs = new HashMap<>();
        for (String h : hashes) {
            try {
                costs.merge(Integer.parseInt(h.substring(4, 6)), 1, Integer::sum);
            } catch (RuntimeException ignored) {
                // not a cost we can read; it does not count
            }
        }
        int cost = costs.entrySet().stream().max(Map.Entry.comparingByValue()).map(Map.Entry::getKey).orElse(5);
        return BCrypt.with(BCrypt.Version.VERSION_2Y).hashToString(Math.max(4, Math.min(cost, 31)), Tokens.random(16).toCharArray());
    }

    /** Whether the user's entry was added again or given a new password after {@code when}. */
    boolean changedSince(String user, java.time.Instant when) {
        reloadIfChanged();
        java.time.Instant changed = changedAt.get(user);
        return changed != null && changed.isAfter(when);
    }

    /** Whether the file (as last read) has this user. */
    boolean has(String user) {
        reloadIfChanged();
        return hashes.containsKey(user);
    }

    private synchronized void reload(boolean first) throws IOException {
        BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
        Object current = List.of(attributes.lastModifiedTime(), attributes.size(), String.valueOf(attributes.fileKey()));
        if (!first && current.equals(stamp)) {
            return;
        }
        Map<String, String> read = new HashMap<>();
        List<String> unsupported = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            String entry = line.strip();
            int colon = entry.indexOf(':');
            if (entry.isEmpty() || entry.startsWith("#") || colon <= 0) {
                continue;
            }
            String user = entry.substring(0, colon);
            String hash = entry.substring(colon + 1);
            if (hash.startsWith("$2y$") || hash.startsWith("$2b$") || hash.startsWith("$2a$")) {
                read.put(user, hash);
            } else {
                unsupported.add(user);
            }
        }
        if (!unsupported.isEmpty()) {
            LOG.warn("{}: users {} have hashes other than bcrypt and cannot sign in; recreate them with htpasswd -B",
                    file, unsupported);
        }
        if (!first) {
            Map<String, java.time.Instant> changed = new HashMap<>(changedAt);
            java.time.Instant now = java.time.Instant.now();
            read.forEach((user, hash) -> {
                if (!hash.equals(hashes.get(user))) {
                    changed.put(user, now);
                }
            });
            changedAt = Map.copyOf(changed);
        }
        hashes = Map.copyOf(read);
        decoy = decoy(read.values());
        stamp = current;
        generation++;
        if (!first) {
            LOG.info("re-read {}: {} users", file, read.size());
        }
    }
}
