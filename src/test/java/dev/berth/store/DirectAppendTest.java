package dev.berth.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** A direct append whose disk fails: the file keeps what came before the failure, and the push fails. */
@Timeout(30)
class DirectAppendTest {
    @TempDir
    Path root;

    @Test
    void aFailedWriteLeavesTheBytesBeforeItAndFailsTheAppend() throws Exception {
        Path path = root.resolve("upload");
        Files.createFile(path);
        byte[] content = new byte[12 * DirectAppend.BUFFER + 1000];
        new Random(1).nextBytes(content);
        try (FileChannel file = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            // The third mebibyte's write fails: nothing after it is written, not even at close.
            DirectAppend append = DirectAppend.open(file, new Failing(FileChannel.open(path, StandardOpenOption.WRITE), 3), 4096);
            assertThatThrownBy(() -> {
                try (append) {
                    for (int at = 0; at < content.length; at += 64 * 1024) {
                        append.write(content, at, Math.min(64 * 1024, content.length - at));
                    }
                }
            }).isInstanceOf(IOException.class).hasMessageContaining("disk failed");
        }
        assertThat(Files.readAllBytes(path)).isEqualTo(Arrays.copyOf(content, 2 * DirectAppend.BUFFER));
    }

    @Test
    void pushesBeyondTheDirectBuffersGoThroughThePageCacheAndEveryBufferComesBack() throws Exception {
        Path path = root.resolve("upload");
        Files.createFile(path);
        try (FileChannel file = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            for (int round = 0; round < 2; round++) {
                java.util.List<DirectAppend> open = new java.util.ArrayList<>();
                for (int i = 0; i < DirectAppend.MOST_AT_ONCE; i++) {
                    DirectAppend append = DirectAppend.open(path, file, 4096);
                    assertThat(append).as("push %d of round %d writes directly", i, round).isNotNull();
                    open.add(append);
                }
                assertThat(DirectAppend.open(path, file, 4096)).as("one push too many").isNull();
                open.get(0).close();
                open.get(0).close(); // twice: still one buffer given back
                DirectAppend again = DirectAppend.open(path, file, 4096);
                assertThat(again).isNotNull();
                assertThat(DirectAppend.open(path, file, 4096)).isNull();
                again.close();
                for (DirectAppend append : open.subList(1, open.size())) {
                    append.close();
                }
            }
        }
    }

    /** A channel whose n-th positional write fails. */
    private static final class Failing extends FileChannel {
        private final FileChannel target;
        private final AtomicInteger writes = new AtomicInteger();
        private final int failing;

        Failing(FileChannel target, int failing) {
            this.target = target;
            this.failing = failing;
        }

        @Override
        public int write(ByteBuffer src, long position) throws IOException {
            if (writes.incrementAndGet() == failing) {
                throw new IOException("disk failed");
            }
            return target.write(src, position);
        }

        @Override
        public int read(ByteBuffer dst) throws IOException {
            return target.read(dst);
        }

        @Override
        public long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
            return target.read(dsts, offset, length);
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            return target.write(src);
        }

        @Override
        public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
            return target.write(srcs, offset, length);
        }

        @Override
        public long position() throws IOException {
            return target.position();
        }

        @Override
        public FileChannel position(long newPosition) throws IOException {
            target.position(newPosition);
            return this;
        }

        @Override
        public long size() throws IOException {
            return target.size();
        }

        @Override
        public FileChannel truncate(long size) throws IOException {
            target.truncate(size);
            return this;
        }

        @Override
        public void force(boolean metaData) throws IOException {
            target.force(metaData);
        }

        @Override
        public long transferTo(long position, long count, WritableByteChannel out) throws IOException {
            return target.transferTo(position, count, out);
        }

        @Override
        public long transferFrom(ReadableByteChannel src, long position, long count) throws IOException {
            return target.transferFrom(src, position, count);
        }

        @Override
        public int read(ByteBuffer dst, long position) throws IOException {
            return target.read(dst, position);
        }

        @Override
        public MappedByteBuffer map(MapMode mode, long position, long size) throws IOException {
            return target.map(mode, position, size);
        }

        @Override
        public FileLock lock(long position, long size, boolean shared) throws IOException {
            return target.lock(position, size, shared);
        }

        @Override
        public FileLock tryLock(long position, long size, boolean shared) throws IOException {
            return target.tryLock(position, size, shared);
        }

        @Override
        protected void implCloseChannel() throws IOException {
            target.close();
        }
    }
}
