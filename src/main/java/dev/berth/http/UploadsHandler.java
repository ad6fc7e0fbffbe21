package dev.berth.http;

import dev.berth.access.Action;
import dev.berth.oci.Digest;
import dev.berth.oci.DigestAlgorithm;
import dev.berth.oci.ErrorCode;
import dev.berth.oci.Names;
import dev.berth.oci.RegistryException;
import dev.berth.registry.ContentRange;
import dev.berth.registry.UploadStatus;
import dev.berth.registry.Uploads;
import java.io.IOException;
import java.io.InputStream;

/**
 * {@code /v2/<name>/blobs/uploads/}: POST starts a session, uploads a whole blob ({@code ?digest=}) or mounts one
 * ({@code ?mount=&from=}); {@code /v2/<name>/blobs/uploads/<id>}: PATCH, PUT, GET and DELETE on a session.
 */
final class UploadsHandler {
    private final Uploads uploads;
    private final Gate gate;

    UploadsHandler(Uploads uploads, Gate gate) {
        this.uploads = uploads;
        this.gate = gate;
    }

    void start(Exchange ex, String repository) throws IOException {
        String mount = ex.query("mount");
        if (mount != null) {
            Digest digest = Digest.parse(mount);
            String from = ex.query("from");
            if (from != null) {
                Names.requireRepository(from);
            }
            // A mount copies nothing, but it hands over a blob: the caller must be able to read where it comes from.
            if (uploads.mount(repository, digest, from, source -> gate.may(ex.identity(), source, Action.READ))) {
                created(ex, repository, digest);
                return;
            }
            // Nothing to mount: a normal session begins and the client uploads the blob itself.
        }
        String whole = ex.query("digest");
        if (whole != null) {
            Digest digest = Digest.parse(whole);
            try (InputStream body = ex.body(ErrorCode.BLOB_UPLOAD_INVALID)) {
                uploads.putWhole(repository, digest, body);
            }
            created(ex, repository, digest);
            return;
        }
        DigestAlgorithm algorithm = DigestAlgorithm.SHA256;
        String requested = ex.query("digest-algorithm");
        if (requested != null) {
            algorithm = DigestAlgorithm.fromLabel(requested).orElseThrow(() -> RegistryException.of(
                    ErrorCode.DIGEST_INVALID, "unsupported digest algorithm: " + requested));
        }
        UploadStatus session = uploads.start(repository, owner(ex), algorithm);
        sessionHeaders(ex, session);
        ex.send(202);
    }

    void session(Exchange ex, String repository, String id) throws IOException {
        switch (ex.method()) {
            case "GET", "HEAD" -> {
                sessionHeaders(ex, uploads.status(repository, owner(ex), id));
                ex.send(204);
            }
            case "PATCH" -> {
                ContentRange range = ContentRange.parse(ex.header("Content-Range"));
                UploadStatus status;
                try (InputStream body = ex.body(ErrorCode.BLOB_UPLOAD_INVALID)) {
                    status = uploads.append(repository, owner(ex), id, range, ex.contentLength(), body);
                }
                sessionHeaders(ex, status);
                ex.send(202);
            }
            case "PUT" -> {
                String raw = ex.query("digest");
                if (raw == null) {
                    throw RegistryException.of(ErrorCode.DIGEST_INVALID, "the closing PUT needs ?digest=");
                }
                Digest digest = Digest.parse(raw);
                ContentRange range = ContentRange.parse(ex.header("Content-Range"));
                try (InputStream body = ex.body(ErrorCode.BLOB_UPLOAD_INVALID)) {
                    uploads.complete(repository, owner(ex), id, digest, range, ex.contentLength(), body);
                }
                created(ex, repository, digest);
            }
            case "DELETE" -> {
                uploads.cancel(repository, owner(ex), id);
                ex.send(204);
            }
            default -> throw new IllegalStateException("the router let " + ex.method() + " through");
        }
    }

    /** Who an upload session belongs to: the caller, or nobody in particular for an anonymous one. */
    private static String owner(Exchange ex) {
        return ex.identity().isAnonymous() ? null : ex.identity().name();
    }

    private static void created(Exchange ex, String repository, Digest digest) {
        ex.header("Location", "/v2/" + repository + "/blobs/" + digest)
                .header("Docker-Content-Digest", digest.toString());
        ex.send(201);
    }

    private static void sessionHeaders(Exchange ex, UploadStatus status) {
        ex.header("Location", Uploads.location(status.repository(), status.id()))
                .header("Range", Uploads.rangeHeader(status.size()))
                .header("Docker-Upload-UUID", status.id());
    }
}
