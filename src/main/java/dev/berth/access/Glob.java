package dev.berth.access;

import java.util.regex.Pattern;

/**
 * A repository pattern as zot writes them (doublestar): {@code *} and {@code ?} stay within one path segment,
 * {@code **} crosses segments ({@code a/**}{@code /b} matches {@code a/b} too, and {@code a/**} matches {@code a}).
 * Everything else is literal.
 */
public final class Glob {
    private final String text;
    private final Pattern pattern;

    public Glob(String text) {
        this.text = text;
        this.pattern = Pattern.compile(toRegex(text));
    }

    public String text() {
        return text;
    }

    public boolean matches(String repository) {
        return pattern.matcher(repository).matches();
    }

    private static String toRegex(String glob) {
        StringBuilder regex = new StringBuilder();
        int i = 0;
        while (i < glob.length()) {
            char c = glob.charAt(i);
            if (c == '/' && glob.startsWith("/**", i) && i + 3 == glob.length()) {
                regex.append("(?:/.*)?"); // a trailing /** also matches the directory itself: a/** matches a
                i += 3;
            } else if (c == '*' && glob.startsWith("**", i)) {
                boolean segmentStart = i == 0 || glob.charAt(i - 1) == '/';
                boolean followedBySlash = glob.startsWith("**/", i);
                if (segmentStart && followedBySlash) {
                    regex.append("(?:.*/)?"); // zero or more whole segments
                    i += 3;
                } else {
                    regex.append(".*");
                    i += 2;
                }
            } else if (c == '*') {
                regex.append("[^/]*");
                i++;
            } else if (c == '?') {
                regex.append("[^/]");
                i++;
            } else {
                regex.append(Pattern.quote(String.valueOf(c)));
                i++;
            }
        }
        return regex.toString();
    }

    @Override
    public String toString() {
        return text;
    }
}
