package dev.berth.http;

import dev.berth.oci.Digest;
import dev.berth.oci.ErrorCode;
import dev.berth.oci.RegistryException;
import dev.berth.proxy.PullThrough;
import dev.berth.registry.Blobs;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import org.eclipse.jetty.io.ByteBufferPool;
import org.eclipse.jetty.io.RetainableByteBuffer;

/** {@code /v2/<name>/blobs/<digest>}: GET (with a single Range), HEAD and DELETE. */
final class BlobsHandler {
    /**
     * Blobs are streamed in pieces of this size (pooled, see HttpServer): a 1 MB layer in one read and one write.
     * Mapping the file instead, to save the copy into this buffer, measured slower at 64 connections (unmapping
     * costs a handshake with every thread and TLB shootdowns).
     */
    static final int CHUNK = 1024 * 1024;

    private final Blobs blobs;
    private final PullThrough reads;

    BlobsHandler(Blobs blobs, PullThrough reads) {
        this.blobs = blobs;
        this.reads = reads;
    }

    void handle(Exchange ex, String repository, String rawDigest) throws IOException {
        Digest digest = Digest.parse(rawDigest);
        if (ex.method().equals("DELETE")) {
            reads.settle(repository, digest);
            blobs.delete(repository, digest);
            ex.send(202);
            return;
        }
        if (ex.isHead()) {
            long size = reads.blobSize(repository, digest); // for a cold mirrored blob: the upstream's HEAD
            headers(ex, digest);
            ex.response().setStatus(200);
            ex.header("Content-Length", Long.toString(size));
            ex.end();
            return;
        }
        // A GET opens first: for a cold mirrored blob that starts the one download, whose length is the size.
        try (SeekableByteChannel channel = reads.openBlob(repository, digest, ex.header("Range") != null)) {
            long size = channel.size();
            headers(ex, digest);
            if (size < 0) {
                // A blob still arriving from an upstream that did not give its length: streamed as it comes.
                stream(ex, channel, digest, 200, 0, -1);
                return;
            }
            switch (ByteRange.resolve(ex.header("Range"), size)) {
                case ByteRange.Unsatisfiable u -> throw RegistryException.of(ErrorCode.SIZE_INVALID, 416,
                        "requested range not satisfiable; the blob holds " + size + " bytes")
                        .withHeader("Content-Range", "bytes */" + size);
                case ByteRange.Partial p -> {
                    ex.header("Content-Range", "bytes " + p.range().first() + "-" + p.range().last() + "/" + size);
                    stream(ex, channel, digest, 206, p.range().first(), p.range().length());
                }
                case ByteRange.Whole w -> stream(ex, channel, digest, 200, 0, size);
            }
        }
    }

    private static void headers(Exchange ex, Digest digest) {
        ex.header("Docker-Content-Digest", digest.toString())
                .header("ETag", "\"" + digest + "\"")
                .header("Accept-Ranges", "bytes")
                // Content-addressed: the bytes behind this URL can never change.
                .header("Cache-Control", "max-age=31536000, immutable")
                .header("Content-Type", "application/octet-stream");
    }

    private static void stream(Exchange ex, SeekableByteChannel channel, Digest digest, int status, long offset,
                               long length) throws IOException {
        ex.response().setStatus(status);
        if (length >= 0) {
            ex.header("Content-Length", Long.toString(length));
        }
        if (length == 0) {
            ex.end();
            return;
        }
        ByteBufferPool pool = ex.request().getComponents().getByteBufferPool();
        RetainableByteBuffer pooled = pool.acquire((int) (length < 0 ? CHUNK : Math.min(CHUNK, length)), true);
        try {
            channel.position(offset);
            ByteBuffer buffer = pooled.getByteBuffer();
            long remaining = length < 0 ? Long.MAX_VALUE : length; // unknown: until the channel ends
            while (remaining > 0) {
                buffer.clear();
                if (buffer.capacity() > remaining) {
                    buffer.limit((int) remaining);
                }
                int n = channel.read(buffer);
                if (n < 0) {
                    if (length < 0) {
                        break;
                    }
                    throw new IOException("blob " + digest + " ended " + remaining + " bytes early");
                }
                buffer.flip();
                remaining -= n;
                ex.write(buffer);
            }
        } finally {
            pooled.release();
        }
        ex.end();
    }
}
