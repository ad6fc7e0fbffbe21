package dev.berth.oci;

import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * A content digest such as {@code sha256:3b0c…}: an algorithm Berth supports and the lowercase hex encoding of
 * the hash. Any string that is not exactly that is refused, so a digest is always safe to use in a file path.
 */
public record Digest(DigestAlgorithm algorithm, String hex) implements Comparable<Digest> {
    // The grammar of the OCI image spec, used to tell "malformed" from "well-formed but unsupported".
    private static final Pattern GRAMMAR = Pattern.compile("[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+");
    private static final Pattern LOWER_HEX = Pattern.compile("[0-9a-f]+");

    public Digest {
        if (hex.length() != algorithm.hexLength() || !LOWER_HEX.matcher(hex).matches()) {
            throw invalid("invalid " + algorithm.label() + " digest encoding");
        }
    }

    /** Parses a digest string or throws {@link ErrorCode#DIGEST_INVALID}. */
    public static Digest parse(String value) {
        if (value == null || value.isEmpty()) {
            throw invalid("digest missing");
        }
        if (value.length() > 256 || !GRAMMAR.matcher(value).matches()) {
            throw invalid("invalid digest: " + abbreviate(value));
        }
        int colon = value.indexOf(':');
        String label = value.substring(0, colon);
        DigestAlgorithm algorithm = DigestAlgorithm.fromLabel(label)
                .orElseThrow(() -> invalid("unsupported digest algorithm: " + label));
        return new Digest(algorithm, value.substring(colon + 1));
    }

    public static Digest of(DigestAlgorithm algorithm, byte[] hash) {
        return new Digest(algorithm, HexFormat.of().formatHex(hash));
    }

    public static Digest compute(DigestAlgorithm algorithm, byte[] content) {
        return of(algorithm, algorithm.newMessageDigest().digest(content));
    }

    /** Whether a manifest reference looks like a digest rather than a tag (tags cannot hold a colon). */
    public static boolean looksLikeDigest(String reference) {
        return reference.indexOf(':') >= 0;
    }

    @Override
    public String toString() {
        return algorithm.label() + ":" + hex;
    }

    @Override
    public int compareTo(Digest other) {
        return toString().compareTo(other.toString());
    }

    private static RegistryException invalid(String message) {
        return RegistryException.of(ErrorCode.DIGEST_INVALID, message);
    }

    static String abbreviate(String value) {
        return value.length() <= 80 ? value : value.substring(0, 80) + "…";
    }
}
