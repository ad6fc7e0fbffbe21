package dev.berth.ui;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;

/** How pages write sizes, times and digests: short for people, exact in a title or attribute. */
public final class Format {
    private static final DateTimeFormatter WHEN = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm 'UTC'", Locale.ROOT)
            .withZone(ZoneOffset.UTC);

    private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();

    private Format() {
    }

    /** A command as the image's config holds it, in exec form, so that one can see where each argument ends. */
    public static String argv(java.util.List<String> arguments) {
        try {
            return JSON.writeValueAsString(arguments);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            return String.join(" ", arguments);
        }
    }

    /** Bytes in binary units: 1.4 MiB. */
    public static String size(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB"};
        double value = bytes;
        int unit = -1;
        while (value >= 1024 && unit < units.length - 1) {
            value /= 1024;
            unit++;
        }
        return String.format(Locale.ROOT, value < 10 ? "%.1f %s" : "%.0f %s", value, units[unit]);
    }

    public static String time(Instant instant) {
        return instant == null ? "never" : WHEN.format(instant);
    }

    /** For a {@code datetime} attribute. */
    public static String iso(Instant instant) {
        return instant == null ? "" : instant.toString();
    }

    /** How long ago, roughly: "3 days ago". */
    public static String ago(Instant instant, Instant now) {
        if (instant == null) {
            return "never";
        }
        Duration d = Duration.between(instant, now);
        boolean future = d.isNegative();
        d = d.abs();
        String amount;
        if (d.toMinutes() < 1) {
            return future ? "in a moment" : "just now";
        } else if (d.toHours() < 1) {
            amount = plural(d.toMinutes(), "minute");
        } else if (d.toDays() < 1) {
            amount = plural(d.toHours(), "hour");
        } else if (d.toDays() < 60) {
            amount = plural(d.toDays(), "day");
        } else if (d.toDays() < 730) {
            amount = plural(d.toDays() / 30, "month");
        } else {
            amount = plural(d.toDays() / 365, "year");
        }
        return future ? "in " + amount : amount + " ago";
    }

    private static String plural(long n, String unit) {
        return n + " " + unit + (n == 1 ? "" : "s");
    }

    /** {@code sha256:0123456789ab}: enough to tell digests apart at a glance. */
    public static String shortDigest(String digest) {
        int colon = digest.indexOf(':');
        return colon < 0 || digest.length() < colon + 13 ? digest : digest.substring(0, colon + 13);
    }

    /** A media type as people say it. */
    public static String kind(String mediaType) {
        if (mediaType == null) {
            return "";
        }
        return switch (mediaType) {
            case "application/vnd.oci.image.manifest.v1+json" -> "OCI image";
            case "application/vnd.oci.image.index.v1+json" -> "OCI index";
            case "application/vnd.docker.distribution.manifest.v2+json" -> "Docker image";
            case "application/vnd.docker.distribution.manifest.list.v2+json" -> "Docker manifest list";
            default -> mediaType;
        };
    }
}
