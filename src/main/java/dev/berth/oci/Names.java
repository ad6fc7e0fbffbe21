package dev.berth.oci;

import java.util.regex.Pattern;

/** The grammar of repository names and tags from the distribution spec. */
public final class Names {
    /** Clients limit host + "/" + name to 255 characters; a name alone can never be longer. */
    public static final int MAX_REPOSITORY_LENGTH = 255;

    private static final Pattern REPOSITORY = Pattern.compile(
            "[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*)*");
    private static final Pattern TAG = Pattern.compile("[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}");

    private Names() {
    }

    public static boolean isRepository(String name) {
        return name != null && name.length() <= MAX_REPOSITORY_LENGTH && REPOSITORY.matcher(name).matches();
    }

    public static boolean isTag(String tag) {
        return tag != null && tag.length() <= 128 && TAG.matcher(tag).matches();
    }

    /** Returns the name or throws {@link ErrorCode#NAME_INVALID}. */
    public static String requireRepository(String name) {
        if (!isRepository(name)) {
            throw RegistryException.of(ErrorCode.NAME_INVALID, "invalid repository name: " + Digest.abbreviate(name));
        }
        return name;
    }

    /** Returns the tag or throws {@link ErrorCode#TAG_INVALID}. */
    public static String requireTag(String tag) {
        if (!isTag(tag)) {
            throw RegistryException.of(ErrorCode.TAG_INVALID, "invalid tag: " + Digest.abbreviate(tag));
        }
        return tag;
    }
}
