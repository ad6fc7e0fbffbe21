package dev.berth.meta;

/** The outcome of removing a manifest or unlinking a blob. {@code blocker} names what still uses it. */
public record Removal(Result result, String blocker) {
    public enum Result { REMOVED, NOT_FOUND, IN_USE }

    static final Removal REMOVED = new Removal(Result.REMOVED, null);
    static final Removal NOT_FOUND = new Removal(Result.NOT_FOUND, null);

    static Removal inUse(String blocker) {
        return new Removal(Result.IN_USE, blocker);
    }
}
