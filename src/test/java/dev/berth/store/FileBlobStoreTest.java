package dev.berth.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.berth.oci.Digest;
import dev.berth.oci.DigestAlgorithm;
import java.io.ByteArrayInputStream;
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
}
