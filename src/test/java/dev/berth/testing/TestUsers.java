package dev.berth.testing;

import at.favre.lib.crypto.bcrypt.BCrypt;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/** htpasswd files for tests, with real bcrypt ($2y$) hashes. */
public final class TestUsers {
    private TestUsers() {
    }

    public static Path htpasswd(Path file, Map<String, String> passwords) {
        StringBuilder text = new StringBuilder();
        passwords.forEach((user, password) -> text.append(user).append(':')
                .append(BCrypt.with(BCrypt.Version.VERSION_2Y).hashToString(5, password.toCharArray())).append('\n'));
        try {
            Files.writeString(file, text);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return file;
    }

    public static Path tempHtpasswd(Map<String, String> passwords) {
        try {
            return htpasswd(Files.createTempFile("berth-htpasswd", ""), passwords);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
