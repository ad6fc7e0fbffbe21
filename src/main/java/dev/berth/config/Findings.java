package dev.berth.config;

import java.util.ArrayList;
import java.util.List;

/** What reading a configuration found: errors that make it unusable, and warnings about what has no effect. */
final class Findings {
    final List<String> errors = new ArrayList<>();
    final List<String> warnings = new ArrayList<>();
}
