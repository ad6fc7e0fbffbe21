package dev.berth.access;

import java.util.Locale;

/** What a caller wants to do to a repository, in zot's four words. */
public enum Action {
    READ, CREATE, UPDATE, DELETE;

    /** The action named {@code read}, {@code create}, {@code update} or {@code delete}. */
    public static Action named(String name) {
        return valueOf(name.toUpperCase(Locale.ROOT));
    }

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
