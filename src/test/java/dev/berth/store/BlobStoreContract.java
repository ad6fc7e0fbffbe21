package dev.berth.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.berth.oci.Digest;
import dev.berth.oci.DigestAlgorithm;
import dev.berth.oci.ErrorCode;
import dev.berth.oci.RegistryException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.NoSuchFileException;
import java.time.Instant;
import java.util.Arrays;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** What every {@link BlobStore} must do; each implementation's test extends this. */
public abstract class BlobStoreContract {
    protected BlobStore store;

    protected abstract BlobStore newStore() throws Exception;

    @BeforeEach
    void open() throws Exception {
        store = newStore();
    }

    @AfterEach
    void close() throws IOException {
        store.close();
    }

    static byte[] random(int size, long seed) {
        byte[] bytes = new byte[size];
        new Random(seed).nextBytes(bytes);
        return bytes;
    }

    static byte[] read(SeekableByteChannel channel) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate((int) channel.size());
        while (buffer.hasRemaining() && channel.read(buffer) >= 0) {
            // fill
        }
        return buffer.array();
    }

    private static String newId() {
        return UUID.randomUUID().toString();
    }

    @Test
    void putThenReadBackExactly() throws Exception {
        byte[] content = random(10_000, 1);
        Digest digest = Digest.compute(DigestAlgorithm.SHA256, content);
        assertThat(store.size(digest)).isEmpty();
        store.put(digest, content);
        store.put(digest, content); // idempotent
        assertThat(store.size(digest)).hasValue(10_000);
        try (SeekableByteChannel channel = store.open(digest)) {
            assertThat(read(channel)).isEqualTo(content);
        }
    }

    @Test
    void putRefusesBytesThatDoNotMatchTheirDigest() throws Exception {
        Digest digest = Digest.compute(DigestAlgorithm.SHA256, new byte[] {1});
        assertThatThrownBy(() -> store.put(digest, new byte[] {2})).isInstanceOfSatisfying(RegistryException.class,
                e -> assertThat(e.code()).isEqualTo(ErrorCode.DIGEST_INVALID));
        assertThat(store.size(digest)).isEmpty();
    }

    @Test
    void openingAMissingBlobFails() {
        Digest digest = Digest.compute(DigestAlgorithm.SHA256, new byte[] {9, 9});
        assertThatThrownBy(() -> store.open(digest)).isInstanceOf(NoSuchFileException.class);
    }

    @Test
    void uploadsInChunksAndCommits() throws Exception {
        byte[] content = random(300_000, 2);
        Digest digest = Digest.compute(DigestAlgorithm.SHA256, content);
        String id = newId();
        store.createUpload(id, DigestAlgorithm.SHA256);
        assertThat(store.uploadSize(id)).isZero();
        assertThat(store.appendToUpload(id, new ByteArrayInputStream(content, 0, 100_000))).isEqualTo(100_000);
        assertThat(store.appendToUpload(id, new ByteArrayInputStream(content, 100_000, 200_000))).isEqualTo(300_000);
        assertThat(store.size(digest)).as("not visible before commit").isEmpty();
        assertThat(store.commitUpload(id, digest)).isEqualTo(300_000);
        try (SeekableByteChannel channel = store.open(digest)) {
            assertThat(read(channel)).isEqualTo(content);
        }
        assertThatThrownBy(() -> store.uploadSize(id)).isInstanceOf(NoSuchFileException.class);
    }

    @Test
    void commitWithAnotherAlgorithmRehashes() throws Exception {
        byte[] content = random(5_000, 3);
        Digest sha512 = Digest.compute(DigestAlgorithm.SHA512, content);
        String id = newId();
        store.createUpload(id, DigestAlgorithm.SHA256);
        store.appendToUpload(id, new ByteArrayInputStream(content));
        assertThat(store.commitUpload(id, sha512)).isEqualTo(5_000);
        assertThat(store.size(sha512)).hasValue(5_000);
    }

    @Test
    void aWrongDigestLeavesTheUploadAsItWas() throws Exception {
        byte[] content = random(1_000, 4);
        String id = newId();
        store.createUpload(id, DigestAlgorithm.SHA256);
        store.appendToUpload(id, new ByteArrayInputStream(content));
        Digest wrong = Digest.compute(DigestAlgorithm.SHA256, new byte[] {1});
        assertThatThrownBy(() -> store.commitUpload(id, wrong)).isInstanceOfSatisfying(RegistryException.class,
                e -> assertThat(e.code()).isEqualTo(ErrorCode.DIGEST_INVALID));
        assertThat(store.size(wrong)).isEmpty();
        assertThat(store.uploadSize(id)).isEqualTo(1_000);
        Digest right = Digest.compute(DigestAlgorithm.SHA256, content);
        assertThat(store.commitUpload(id, right)).isEqualTo(1_000);
    }

    @Test
    void anInterruptedAppendKeepsWhatArrivedAndStaysConsistent() throws Exception {
        byte[] content = random(200_000, 5);
        String id = newId();
        store.createUpload(id, DigestAlgorithm.SHA256);
        InputStream breaking = new InputStream() {
            int position;

            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (position >= 50_000) {
                    throw new IOException("connection reset");
                }
                int n = Math.min(len, 50_000 - position);
                System.arraycopy(content, position, b, off, n);
                position += n;
                return n;
            }
        };
        assertThatThrownBy(() -> store.appendToUpload(id, breaking)).isInstanceOf(IOException.class);
        long kept = store.uploadSize(id);
        assertThat(kept).isEqualTo(50_000);
        store.appendToUpload(id, new ByteArrayInputStream(content, (int) kept, content.length - (int) kept));
        assertThat(store.commitUpload(id, Digest.compute(DigestAlgorithm.SHA256, content))).isEqualTo(200_000);
    }

    @Test
    void aSinkReadableWhileWrittenKnowsItsDigestBeforeTheCommit() throws Exception {
        byte[] content = random(300_000, 8);
        Digest digest = Digest.compute(DigestAlgorithm.SHA256, content);
        String id = newId();
        store.createUpload(id, DigestAlgorithm.SHA256);
        try (BlobStore.UploadSink sink = store.openUploadSink(id); SeekableByteChannel reader = store.readUpload(id)) {
            sink.write(content, 0, 100_000);
            ByteBuffer first = ByteBuffer.allocate(100_000);
            while (first.hasRemaining() && reader.read(first) > 0) {
                // a reader sees what the sink wrote, before the upload is committed
            }
            assertThat(first.array()).isEqualTo(Arrays.copyOf(content, 100_000));
            sink.write(content, 100_000, content.length - 100_000);
            assertThat(sink.size()).isEqualTo(content.length);
            // A store that does not hash as it goes may say nothing, but never something wrong.
            assertThat(sink.digest()).satisfiesAnyOf(d -> assertThat(d).isEmpty(), d -> assertThat(d).hasValue(digest));
        }
        assertThat(store.commitUpload(id, digest)).isEqualTo(content.length);
        assertThatThrownBy(() -> store.readUpload(id)).isInstanceOf(NoSuchFileException.class);
    }

    @Test
    void truncateUndoesAnAppend() throws Exception {
        byte[] content = random(1_000, 6);
        String id = newId();
        store.createUpload(id, DigestAlgorithm.SHA256);
        store.appendToUpload(id, new ByteArrayInputStream(content));
        store.appendToUpload(id, new ByteArrayInputStream(new byte[] {1, 2, 3}));
        store.truncateUpload(id, 1_000);
        assertThat(store.uploadSize(id)).isEqualTo(1_000);
        assertThat(store.commitUpload(id, Digest.compute(DigestAlgorithm.SHA256, content))).isEqualTo(1_000);
    }

    @Test
    void emptyBlobs() throws Exception {
        Digest empty = Digest.compute(DigestAlgorithm.SHA256, new byte[0]);
        String id = newId();
        store.createUpload(id, DigestAlgorithm.SHA256);
        assertThat(store.commitUpload(id, empty)).isZero();
        assertThat(store.size(empty)).hasValue(0);
    }

    @Test
    void committingContentAlreadyStoredKeepsOneCopy() throws Exception {
        byte[] content = random(2_000, 7);
        Digest digest = Digest.compute(DigestAlgorithm.SHA256, content);
        store.put(digest, content);
        String id = newId();
        store.createUpload(id, DigestAlgorithm.SHA256);
        store.appendToUpload(id, new ByteArrayInputStream(content));
        assertThat(store.commitUpload(id, digest)).isEqualTo(2_000);
        assertThat(store.size(digest)).hasValue(2_000);
    }

    @Test
    void deleteUploadAndBlob() throws Exception {
        String id = newId();
        store.createUpload(id, DigestAlgorithm.SHA256);
        store.deleteUpload(id);
        store.deleteUpload(id);
        assertThatThrownBy(() -> store.uploadSize(id)).isInstanceOf(NoSuchFileException.class);
        byte[] content = random(10, 8);
        Digest digest = Digest.compute(DigestAlgorithm.SHA256, content);
        store.put(digest, content);
        assertThat(store.delete(digest)).isTrue();
        assertThat(store.delete(digest)).isFalse();
        assertThat(store.size(digest)).isEmpty();
    }

    @Test
    void uploadIdsCannotNameOtherFiles() {
        for (String id : new String[] {"../berth.db", "x", "/etc/passwd", "00000000-0000-0000-0000-00000000000G"}) {
            assertThatThrownBy(() -> store.createUpload(id, DigestAlgorithm.SHA256)).as(id)
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void housekeepingSeesBlobsAndUploadsAndSetsCorruptBlobsAside() throws Exception {
        byte[] content = random(1_234, 10);
        Digest digest = Digest.compute(DigestAlgorithm.SHA256, content);
        store.put(digest, content);
        List<BlobStore.Entry> blobs = new ArrayList<>();
        store.forEachBlob(blobs::add);
        assertThat(blobs).singleElement().satisfies(e -> {
            assertThat(e.name()).isEqualTo(digest.toString());
            assertThat(e.size()).isEqualTo(1_234);
            assertThat(e.modified()).isBetween(Instant.now().minusSeconds(60), Instant.now().plusSeconds(60));
        });

        String id = newId();
        store.createUpload(id, DigestAlgorithm.SHA256);
        store.appendToUpload(id, new ByteArrayInputStream(new byte[100]));
        assertThat(store.uploads()).singleElement().satisfies(e -> {
            assertThat(e.name()).isEqualTo(id);
            assertThat(e.size()).isEqualTo(100);
        });
        assertThat(store.uploadModified(id)).hasValueSatisfying(t -> assertThat(t).isAfter(Instant.now().minusSeconds(60)));
        store.deleteUpload(id);
        assertThat(store.uploads()).isEmpty();
        assertThat(store.uploadModified(id)).isEmpty();

        assertThat(store.quarantine(digest)).isTrue();
        assertThat(store.quarantine(digest)).isFalse();
        assertThat(store.size(digest)).isEmpty();
        List<BlobStore.Entry> after = new ArrayList<>();
        store.forEachBlob(after::add);
        assertThat(after).isEmpty();
        assertThat(store.usableSpace()).isPositive();
    }

    @Test
    void sha512ContentLivesBesideSha256() throws Exception {
        byte[] content = random(100, 9);
        Digest a = Digest.compute(DigestAlgorithm.SHA256, content);
        Digest b = Digest.compute(DigestAlgorithm.SHA512, content);
        store.put(a, content);
        store.put(b, content);
        try (SeekableByteChannel channel = store.open(b)) {
            assertThat(Arrays.equals(read(channel), content)).isTrue();
        }
    }
}
