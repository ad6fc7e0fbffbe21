package dev.berth.http;

import dev.berth.meta.ManifestRecord;
import dev.berth.oci.ErrorCode;
import dev.berth.oci.Reference;
import dev.berth.oci.RegistryException;
import dev.berth.proxy.PullThrough;
import dev.berth.registry.Manifests;
import dev.berth.registry.Pulls;
import dev.berth.registry.PushedManifest;
import dev.berth.registry.StoredManifest;

/** {@code /v2/<name>/manifests/<reference>}: GET, HEAD, PUT (with {@code ?tag=}) and DELETE. */
final class ManifestsHandler {
    private final Manifests manifests;
    private final PullThrough reads;
    private final MemoryBudget memory;
    private final Gate gate;
    private final Pulls pulls;

    ManifestsHandler(Manifests manifests, PullThrough reads, MemoryBudget memory, Gate gate, Pulls pulls) {
        this.manifests = manifests;
        this.pulls = pulls;
        this.reads = reads;
        this.memory = memory;
        this.gate = gate;
    }

    void handle(Exchange ex, String repository, String rawReference) throws Exception {
        Reference reference;
        try {
            reference = Reference.parse(rawReference);
        } catch (RegistryException malformed) {
            // A push learns what is wrong with its reference; a read of one that cannot exist is simply not
            // found, the one failure the spec lists for GET and HEAD (and what the conformance suite expects).
            if (ex.method().equals("PUT")) {
                throw malformed;
            }
            throw RegistryException.of(ErrorCode.MANIFEST_UNKNOWN, 404, "manifest unknown: " + malformed.getMessage());
        }
        switch (ex.method()) {
            case "GET" -> get(ex, repository, reference);
            case "HEAD" -> head(ex, repository, reference);
            case "PUT" -> put(ex, repository, reference);
            case "DELETE" -> delete(ex, repository, reference);
            default -> throw new IllegalStateException("the router let " + ex.method() + " through");
        }
    }

    private void get(Exchange ex, String repository, Reference reference) {
        StoredManifest manifest = reads.getManifest(repository, reference);
        pulls.record(repository, manifest.digest()); // a GET is a pull, as zot counts them; a HEAD is not
        String etag = "\"" + manifest.digest() + "\"";
        ex.header("Docker-Content-Digest", manifest.digest().toString()).header("ETag", etag);
        if (etag.equals(ex.header("If-None-Match"))) {
            notModified(ex, manifest.size());
            return;
        }
        ex.send(200, manifest.mediaType(), manifest.content());
    }

    private void head(Exchange ex, String repository, Reference reference) {
        ManifestRecord manifest = reads.findManifest(repository, reference);
        String etag = "\"" + manifest.digest() + "\"";
        ex.header("Docker-Content-Digest", manifest.digest().toString()).header("ETag", etag);
        if (etag.equals(ex.header("If-None-Match"))) {
            notModified(ex, manifest.size());
            return;
        }
        ex.header("Content-Type", manifest.mediaType())
                .header("Content-Length", Long.toString(manifest.size()));
        ex.response().setStatus(200);
        ex.end();
    }

    private void put(Exchange ex, String repository, Reference reference) throws Exception {
        long declared = ex.contentLength();
        long reserve = declared >= 0 && declared <= Manifests.MAX_SIZE ? declared : Manifests.MAX_SIZE;
        PushedManifest pushed = memory.within(reserve, () -> {
            byte[] body = ex.bodyBytes(Manifests.MAX_SIZE, ErrorCode.MANIFEST_INVALID);
            return manifests.put(repository, reference, ex.queryValues("tag"), ex.header("Content-Type"), body,
                    gate.tagPolicy(ex.identity(), repository));
        });
        ex.header("Location", "/v2/" + repository + "/manifests/" + pushed.digest())
                .header("Docker-Content-Digest", pushed.digest().toString());
        if (pushed.subject() != null) {
            ex.header("OCI-Subject", pushed.subject().toString());
        }
        for (String tag : pushed.tags()) {
            ex.addHeader("OCI-Tag", tag);
        }
        ex.send(201);
    }

    /** A 304 may carry a Content-Length only if it is the 200's; give that rather than let a 0 be added. */
    private static void notModified(Exchange ex, long size) {
        ex.header("Content-Length", Long.toString(size));
        ex.send(304);
    }

    private void delete(Exchange ex, String repository, Reference reference) {
        manifests.delete(repository, reference);
        ex.send(202);
    }
}
