package dev.berth.registry;

import java.util.List;

/** One page of a sorted listing; {@code more} says whether entries follow the last one. */
public record Page(List<String> items, boolean more) {
    public String last() {
        return items.isEmpty() ? null : items.get(items.size() - 1);
    }
}
