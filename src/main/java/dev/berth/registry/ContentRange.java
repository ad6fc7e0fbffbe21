package dev.berth.registry;

import dev.berth.oci.ErrorCode;
import dev.berth.oci.RegistryException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code Content-Range} of an upload chunk: inclusive first and last byte, as the spec writes it
 * ({@code 0-1023}); the {@code bytes 0-1023/*} form some clients send is accepted too.
 */
public record ContentRange(long first, long last) {
    private static final Pattern FORM = Pattern.compile("(?:bytes[ =])?(\\d{1,18})-(\\d{1,18})(?:/(\\*|\\d{1,18}))?",
            Pattern.CASE_INSENSITIVE);

    public long length() {
        return last - first + 1;
    }

    /** Parses the header, or returns null when absent. A malformed range is {@code BLOB_UPLOAD_INVALID}. */
    public static ContentRange parse(String header) {
        if (header == null || header.isBlank()) {
            return null;
        }
        Matcher m = FORM.matcher(header.strip());
        if (!m.matches()) {
            throw RegistryException.of(ErrorCode.BLOB_UPLOAD_INVALID, "malformed Content-Range: " + header);
        }
        long first = Long.parseLong(m.group(1));
        long last = Long.parseLong(m.group(2));
        String total = m.group(3);
        if (total != null && !total.equals("*") && Long.parseLong(total) <= last) {
            throw RegistryException.of(ErrorCode.BLOB_UPLOAD_INVALID, "Content-Range ends beyond its own total: " + header);
        }
        // A range that ends before it starts is well-formed but unsatisfiable; the upload reports it as a 416.
        return new ContentRange(first, last);
    }
}
