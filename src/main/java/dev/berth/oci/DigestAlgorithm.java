package dev.berth.oci;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Optional;

/** The digest algorithms Berth stores content under. */
public enum DigestAlgorithm {
    SHA256("sha256", "SHA-256", 64),
    SHA512("sha512", "SHA-512", 128);

    private final String label;
    private final String jcaName;
    private final int hexLength;

    DigestAlgorithm(String label, String jcaName, int hexLength) {
        this.label = label;
        this.jcaName = jcaName;
        this.hexLength = hexLength;
    }

    /** The name used in digest strings, e.g. {@code sha256}. */
    public String label() {
        return label;
    }

    public int hexLength() {
        return hexLength;
    }

    public MessageDigest newMessageDigest() {
        try {
            return MessageDigest.getInstance(jcaName);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(jcaName + " is part of every JDK", e);
        }
    }

    public static Optional<DigestAlgorithm> fromLabel(String label) {
        for (DigestAlgorithm a : values()) {
            if (a.label.equals(label)) {
                return Optional.of(a);
            }
        }
        return Optional.empty();
    }
}
