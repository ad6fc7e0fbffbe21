package dev.berth.registry;

/**
 * Whether the caller may make a tag change. Asked inside the transaction that writes the tag, so that two
 * concurrent pushes of the same new tag cannot both see it as new: with permission to create but not to
 * update, exactly one of them wins.
 */
@FunctionalInterface
public interface TagPolicy {
    /** What writing a tag would do. */
    enum Change {
        /** The tag does not exist yet. */
        CREATE,
        /** The tag exists and would point at another manifest. */
        MOVE,
        /** The tag already points at this very manifest: nothing changes. */
        KEEP
    }

    /** Throws a {@link dev.berth.oci.RegistryException} when the change is not allowed. */
    void check(String tag, Change change);

    TagPolicy ANY = (tag, change) -> { };
}
