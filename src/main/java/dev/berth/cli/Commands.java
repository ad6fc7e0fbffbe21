package dev.berth.cli;

import dev.berth.config.BerthConfig;
import dev.berth.config.ConfigException;
import dev.berth.config.ConfigLoader;
import java.io.PrintWriter;
import java.nio.file.Path;

/** What the maintenance commands share. */
final class Commands {
    private Commands() {
    }

    /** The settings of {@code config} (the defaults without one), or null after printing why they cannot be used. */
    static BerthConfig settings(Path config, PrintWriter err) {
        if (config == null) {
            return BerthConfig.defaults();
        }
        try {
            return ConfigLoader.load(config).config();
        } catch (ConfigException e) {
            err.println("berth: " + config + " cannot be used:");
            e.problems().forEach(p -> err.println("  " + p));
            return null;
        }
    }

    /**
     * Whether {@code root} holds Berth's data, after printing why not: maintenance of a mistyped directory must
     * not quietly create an empty one and report it clean.
     */
    static boolean holdsData(BerthConfig.Storage storage, String command, PrintWriter err) {
        Path root = storage.rootDirectory();
        if (storage.database() != null || java.nio.file.Files.isRegularFile(root.resolve("berth.db"))) {
            return true; // a PostgreSQL database is checked when it is opened: it must match the blob store
        }
        err.println("berth " + command + ": no Berth data in " + root.toAbsolutePath()
                + " (no berth.db); check storage.rootDirectory" + " or --config");
        return false;
    }
}
