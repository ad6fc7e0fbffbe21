package dev.berth.testing;

import java.util.Arrays;

/** One scrape of {@code /metrics}, read as Prometheus text. */
public final class Scrape {
    private final String text;

    private Scrape(String text) {
        this.text = text;
    }

    public static Scrape of(RegistryClient client) {
        RegistryClient.Response r = client.get("/metrics");
        if (r.status() != 200) {
            throw new AssertionError("/metrics answered " + r.status() + ": " + r.text());
        }
        return new Scrape(r.text());
    }

    /** The sum of every sample of {@code metric} whose labels include each of {@code labels} ({@code k="v"}). */
    public double sum(String metric, String... labels) {
        double sum = 0;
        for (String line : text.split("\n")) {
            if (!line.startsWith(metric + "{") && !line.startsWith(metric + " ")) {
                continue;
            }
            int close = line.lastIndexOf('}');
            String labelSet = close < 0 ? "" : line.substring(metric.length(), close + 1);
            if (Arrays.stream(labels).allMatch(labelSet::contains)) {
                sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return sum;
    }

    /** Whether any sample line of {@code metric} carries all of {@code labels}. */
    public boolean has(String metric, String... labels) {
        for (String line : text.split("\n")) {
            if (line.startsWith(metric + "{") || line.startsWith(metric + " ")) {
                int close = line.lastIndexOf('}');
                String labelSet = close < 0 ? "" : line.substring(metric.length(), close + 1);
                if (Arrays.stream(labels).allMatch(labelSet::contains)) {
                    return true;
                }
            }
        }
        return false;
    }

    public String text() {
        return text;
    }
}
