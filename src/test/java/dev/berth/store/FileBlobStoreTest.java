package dev.berth.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.berth.oci.Digest;
import dev.berth.oci.DigestAlgorithm;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileBlobStoreTest extends BlobStoreContract {
    @TempDir
    Path root;

    @Override
    protected BlobStore newStore() throws Exception {
        return new FileBlobStore(root);
    }

    @Test
    void laysBlobsOutByAlgorithmAndPrefix() throws Exception {
        byte[] content = random(10, 11);
        Digest digest = Digest.compute(DigestAlgorithm.SHA256, content);
        store.put(digest, content);
        assertThat(root.resolve("blobs/sha256/" + digest.hex().substring(0, 2) + "/" + digest.hex())).exists();
    }

    @Test
    void anUploadSurvivesARestartAndIsRehashedAtCommit() throws Exception {
        byte[] content = random(70_000, 12);
        String id = UUID.randomUUID().toString();
        store.createUpload(id, DigestAlgorithm.SHA256);
        store.appendToUpload(id, new ByteArrayInputStream(content, 0, 30_000));
        store.close();
        store = new FileBlobStore(root);
        assertThat(store.uploadSize(id)).isEqualTo(30_000);
        store.appendToUpload(id, new ByteArrayInputStream(content, 30_000, 40_000));
        assertThat(store.commitUpload(id, Digest.compute(DigestAlgorithm.SHA256, content))).isEqualTo(70_000);
    }

    @Test
    void theFileStoreHashesAsItWritesSoASinkKnowsItsDigest() throws Exception {
        byte[] content = random(50_000, 13);
        String id = UUID.randomUUID().toString();
        store.createUpload(id, DigestAlgorithm.SHA512);
        try (BlobStore.UploadSink sink = store.openUploadSink(id)) {
            sink.write(content, 0, content.length);
            assertThat(sink.digest()).hasValue(Digest.compute(DigestAlgorithm.SHA512, content));
        }
    }

    @Test
    void leftoversOfInterruptedWritesAreRemovedAtStart() throws Exception {
        Path leftover = root.resolve("uploads/" + UUID.randomUUID() + ".tmp");
        Files.write(leftover, new byte[] {1});
        store.close();
        store = new FileBlobStore(root);
        assertThat(leftover).doesNotExist();
    }

    @Test
    void pushedChunksOfEveryAlignmentLandByteForByte() throws Exception {
        assertChunksLand(store, root);
    }

    @Test
    void pushesGoThroughThePageCacheWhereDirectWritesAreOffOrRefused() throws Exception {
        FileBlobStore buffered = new FileBlobStore(root.resolve("buffered"), false);
        assertThat(buffered.writesPastPageCache()).isFalse();
        assertChunksLand(buffered, root.resolve("buffered"));
        assertThat(DirectAppend.supported(root, 3)).as("a block size that does not divide the buffer").isFalse();
        assertThat(DirectAppend.supported(root.resolve("missing"), 4096)).isFalse();
    }

    /**
     * Chunks that start and end inside a block, on a block boundary, fill the write buffer exactly or overrun it,
     * and an empty one: each lands as sent, whether the store writes them past the page cache or not, and the
     * blob commits under its digest with the running hash and, after a restart, with a re-read.
     */
    private static void assertChunksLand(BlobStore store, Path root) throws Exception {
        int piece = DirectAppend.BUFFER / 4;
        int[] chunks = {1, 4095, 4096, 0, 1, piece, piece + 4095, 3, 13 * piece + 17, 4096 - 7, 5000,
                piece - 5000 - 4096, 4 * piece};
        for (boolean restart : new boolean[] {false, true}) {
            String id = UUID.randomUUID().toString();
            store.createUpload(id, DigestAlgorithm.SHA256);
            ByteArrayOutputStream sent = new ByteArrayOutputStream();
            int seed = 20;
            for (int length : chunks) {
                byte[] chunk = random(length, seed++);
                sent.write(chunk);
                assertThat(store.appendToUpload(id, new ByteArrayInputStream(chunk))).isEqualTo(sent.size());
                assertThat(store.uploadSize(id)).isEqualTo(sent.size());
                assertThat(Files.readAllBytes(root.resolve("uploads/" + id))).isEqualTo(sent.toByteArray());
            }
            // A client that goes away mid-chunk: what arrived is kept, pieces handed to the disk and those not.
            byte[] cut = random(2 * DirectAppend.BUFFER + 12_345, seed);
            int arrived = DirectAppend.BUFFER + 70_000;
            java.io.InputStream breaking = new ByteArrayInputStream(cut, 0, arrived) {
                @Override
                public synchronized int read(byte[] b, int off, int len) {
                    int n = super.read(b, off, len);
                    if (n < 0) {
                        throw new java.io.UncheckedIOException(new java.io.IOException("connection reset"));
                    }
                    return n;
                }
            };
            BlobStore current = store;
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> current.appendToUpload(id, breaking))
                    .hasMessageContaining("connection reset");
            sent.write(cut, 0, arrived);
            assertThat(Files.readAllBytes(root.resolve("uploads/" + id))).isEqualTo(sent.toByteArray());
            if (restart) {
                store.close();
                store = new FileBlobStore(root);
            }
            Digest digest = Digest.compute(DigestAlgorithm.SHA256, sent.toByteArray());
            assertThat(store.commitUpload(id, digest)).isEqualTo(sent.size());
            try (var in = java.nio.channels.Channels.newInputStream(store.open(digest))) {
                assertThat(in.readAllBytes()).isEqualTo(sent.toByteArray());
            }
            store.delete(digest);
        }
    }
}
