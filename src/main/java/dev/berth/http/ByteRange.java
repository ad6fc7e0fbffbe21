package dev.berth.http;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A single byte range requested with {@code Range: bytes=a-b}, {@code bytes=a-} or {@code bytes=-n}, resolved
 * against the blob's size (RFC 9110 §14). Several ranges are not served as multipart: the whole blob is sent.
 */
record ByteRange(long first, long last) {
    private static final Pattern SINGLE = Pattern.compile("bytes=(\\d{0,18})-(\\d{0,18})", Pattern.CASE_INSENSITIVE);

    long length() {
        return last - first + 1;
    }

    /** Outcome of reading a Range header. */
    sealed interface Request permits Whole, Partial, Unsatisfiable {
    }

    record Whole() implements Request {
    }

    record Partial(ByteRange range) implements Request {
    }

    record Unsatisfiable() implements Request {
    }

    static Request resolve(String header, long size) {
        if (header == null) {
            return new Whole();
        }
        Matcher m = SINGLE.matcher(header.strip());
        if (!m.matches() || (m.group(1).isEmpty() && m.group(2).isEmpty())) {
            // Multiple ranges, other units or nonsense: ignoring the header is what RFC 9110 allows.
            return new Whole();
        }
        if (m.group(1).isEmpty()) {
            long suffix = Long.parseLong(m.group(2));
            if (suffix == 0 || size == 0) {
                return new Unsatisfiable();
            }
            return new Partial(new ByteRange(Math.max(0, size - suffix), size - 1));
        }
        long first = Long.parseLong(m.group(1));
        long last = m.group(2).isEmpty() ? size - 1 : Math.min(Long.parseLong(m.group(2)), size - 1);
        if (first >= size || (!m.group(2).isEmpty() && Long.parseLong(m.group(2)) < first)) {
            return new Unsatisfiable();
        }
        return new Partial(new ByteRange(first, last));
    }
}
