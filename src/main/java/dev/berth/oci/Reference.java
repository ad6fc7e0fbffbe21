package dev.berth.oci;

/** The {@code <tag-or-digest>} part of a manifest URL: exactly one of a tag or a digest. */
public record Reference(String tag, Digest digest) {
    public Reference {
        if ((tag == null) == (digest == null)) {
            throw new IllegalArgumentException("a reference is a tag or a digest");
        }
    }

    /** Parses a reference; a malformed digest is {@code DIGEST_INVALID}, a malformed tag {@code TAG_INVALID}. */
    public static Reference parse(String value) {
        if (Digest.looksLikeDigest(value)) {
            return new Reference(null, Digest.parse(value));
        }
        return new Reference(Names.requireTag(value), null);
    }

    public static Reference of(Digest digest) {
        return new Reference(null, digest);
    }

    public boolean isDigest() {
        return digest != null;
    }

    @Override
    public String toString() {
        return isDigest() ? digest.toString() : tag;
    }
}
