package dev.berth.http;

import dev.berth.meta.ManifestRecord;
import dev.berth.oci.Digest;
import dev.berth.oci.ErrorCode;
import dev.berth.oci.MediaTypes;
import dev.berth.oci.Names;
import dev.berth.oci.RegistryException;
import dev.berth.registry.Listings;
import dev.berth.registry.Page;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Tag lists, the catalog and the referrers API. */
final class ListingsHandler {
    private final Listings listings;

    ListingsHandler(Listings listings) {
        this.listings = listings;
    }

    void tags(Exchange ex, String repository) {
        Integer n = pageSize(ex);
        String last = ex.query("last");
        if (last != null && !last.isEmpty()) {
            Names.requireTag(last);
        }
        Page page = listings.tags(repository, emptyToNull(last), n);
        if (page.more()) {
            ex.header("Link", "</v2/" + repository + "/tags/list?n=" + n + "&last=" + page.last() + ">; rel=\"next\"");
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("name", repository);
        body.put("tags", page.items());
        ex.sendJson(200, body);
    }

    /** The catalog, showing only the repositories {@code visible} admits (those the caller may read). */
    void catalog(Exchange ex, java.util.function.Predicate<String> visible) {
        Integer n = pageSize(ex);
        String last = ex.query("last");
        Page page = listings.catalog(emptyToNull(last), n, visible);
        if (page.more()) {
            int size = n == null ? Listings.DEFAULT_CATALOG_PAGE : Math.min(n, Listings.MAX_PAGE);
            ex.header("Link", "</v2/_catalog?n=" + size + "&last=" + page.last() + ">; rel=\"next\"");
        }
        ex.sendJson(200, Map.of("repositories", page.items()));
    }

    void referrers(Exchange ex, String repository, String rawDigest) {
        Digest subject = Digest.parse(rawDigest);
        String artifactType = emptyToNull(ex.query("artifactType"));
        List<Map<String, Object>> descriptors = new ArrayList<>();
        for (ManifestRecord referrer : listings.referrers(repository, subject, artifactType)) {
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("mediaType", referrer.mediaType());
            d.put("digest", referrer.digest().toString());
            d.put("size", referrer.size());
            if (referrer.artifactType() != null && !referrer.artifactType().isEmpty()) {
                d.put("artifactType", referrer.artifactType());
            }
            if (!referrer.annotations().isEmpty()) {
                d.put("annotations", referrer.annotations());
            }
            descriptors.add(d);
        }
        if (artifactType != null) {
            ex.header("OCI-Filters-Applied", "artifactType");
        }
        Map<String, Object> index = new LinkedHashMap<>();
        index.put("schemaVersion", 2);
        index.put("mediaType", MediaTypes.OCI_INDEX);
        index.put("manifests", descriptors);
        ex.sendJson(200, MediaTypes.OCI_INDEX, index);
    }

    /** {@code n}: absent, or a non-negative integer. */
    private static Integer pageSize(Exchange ex) {
        String raw = ex.query("n");
        if (raw == null || raw.isEmpty()) {
            return null;
        }
        try {
            long n = Long.parseLong(raw);
            if (n >= 0) {
                return (int) Math.min(n, Listings.MAX_PAGE);
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw RegistryException.of(ErrorCode.UNSUPPORTED, 400, "n must be a non-negative integer, got " + raw);
    }

    private static String emptyToNull(String s) {
        return s == null || s.isEmpty() ? null : s;
    }
}
