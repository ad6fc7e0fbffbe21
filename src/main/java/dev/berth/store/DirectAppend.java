package dev.berth.store;

import com.sun.nio.file.ExtendedOpenOption;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Semaphore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Appends a pushed chunk to its upload file past the page cache (O_DIRECT), a mebibyte at a time. A push must reach
 * the disk before it is acknowledged anyway, and nobody reads an upload before it is committed, so copying it into
 * the page cache first is only extra work: on a VM, every page of a cache that grows into guest memory not touched
 * yet costs a fault, and a buffered 1 MB write and fsync measured 3.6–4.3 ms here against 1.1–1.9 ms direct.
 * Direct writes must start at a block boundary and be whole blocks: a chunk that starts inside a block rewrites
 * that block from its start (read back first), and the last, partial block goes through the page cache, which the
 * commit's fsync then flushes. Writing each mebibyte on another thread while the next one arrives measured no
 * faster here (pieces of 256 KiB, slower), so the request's own thread writes. Downloads of the pull-through cache
 * do not come here: their readers follow the file as it grows.
 */
final class DirectAppend implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DirectAppend.class);
    static final int BUFFER = 1 << 20;
    /**
     * Pushes writing directly at once, each with a buffer of its own outside the heap: more go through the page
     * cache, so that a crowd of pushes cannot exhaust the memory set aside for direct buffers.
     */
    static final int MOST_AT_ONCE = 32;
    private static final Semaphore IN_USE = new Semaphore(MOST_AT_ONCE);
    /** Buffers kept for the next pushes; the others are left to the collector. */
    private static final ArrayBlockingQueue<ByteBuffer> FREE = new ArrayBlockingQueue<>(8);

    private final FileChannel file;
    private final FileChannel direct;
    private final int block;
    private ByteBuffer buffer;
    /** Set when a direct write failed: what the buffer holds is then in no known state, and is not written. */
    private boolean failed;
    /** The file offset of the buffer's first byte: always a block boundary. */
    private long bufferStart;

    private DirectAppend(FileChannel file, FileChannel direct, int block, ByteBuffer buffer, long bufferStart) {
        this.file = file;
        this.direct = direct;
        this.block = block;
        this.buffer = buffer;
        this.bufferStart = bufferStart;
    }

    /**
     * Whether the file system under {@code directory} takes direct writes of {@code block}-sized blocks (some do
     * not: tmpfs on older kernels, some network and FUSE file systems): checked once with a real write, so that no
     * push finds out.
     */
    static boolean supported(Path directory, int block) {
        if (block <= 0 || BUFFER % block != 0) {
            return false;
        }
        Path probe = directory.resolve(".direct-write-probe");
        try {
            try (FileChannel channel = FileChannel.open(probe, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING, ExtendedOpenOption.DIRECT)) {
                ByteBuffer one = ByteBuffer.allocateDirect(2 * block).alignedSlice(block).limit(block);
                channel.write(one, 0);
            }
            return true;
        } catch (IOException | UnsupportedOperationException e) {
            LOG.info("uploads are written through the page cache: {} takes no direct writes ({})", directory, e.toString());
            return false;
        } finally {
            try {
                Files.deleteIfExists(probe);
            } catch (IOException ignored) {
                // a stray probe file is harmless and is replaced next time
            }
        }
    }

    /**
     * Appends to {@code path}, whose bytes so far {@code file} (open for reading and writing) holds. Null when
     * {@link #MOST_AT_ONCE} pushes are writing directly already: this one then uses the page cache.
     */
    static DirectAppend open(Path path, FileChannel file, int block) throws IOException {
        if (!IN_USE.tryAcquire()) {
            return null;
        }
        FileChannel direct;
        try {
            direct = FileChannel.open(path, StandardOpenOption.WRITE, ExtendedOpenOption.DIRECT);
        } catch (IOException | RuntimeException e) {
            IN_USE.release();
            throw e;
        }
        return start(file, direct, block);
    }

    /** The same through {@code direct}, the file already opened for direct writes, which is closed with this. */
    static DirectAppend open(FileChannel file, FileChannel direct, int block) throws IOException {
        if (!IN_USE.tryAcquire()) {
            direct.close();
            return null;
        }
        return start(file, direct, block);
    }

    /** With a permit held, which the buffer taken here carries until it is given back. */
    private static DirectAppend start(FileChannel file, FileChannel direct, int block) throws IOException {
        ByteBuffer buffer = null;
        try {
            buffer = take(block);
            long size = file.size();
            long start = size - size % block;
            // The partial block already there is written again, whole, with what follows it.
            while (buffer.position() < size - start) {
                if (file.read(buffer, start + buffer.position()) < 0) {
                    throw new IOException("upload file shrank while it was being appended to");
                }
            }
            return new DirectAppend(file, direct, block, buffer, start);
        } catch (IOException | RuntimeException | Error e) {
            if (buffer != null) {
                give(buffer);
            } else {
                IN_USE.release();
            }
            direct.close();
            throw e;
        }
    }

    void write(byte[] bytes, int offset, int length) throws IOException {
        while (length > 0) {
            int n = Math.min(length, buffer.remaining());
            buffer.put(bytes, offset, n);
            offset += n;
            length -= n;
            if (!buffer.hasRemaining()) {
                try {
                    writeFully(direct, buffer.flip(), bufferStart);
                } catch (IOException | RuntimeException e) {
                    failed = true;
                    throw e;
                }
                bufferStart += BUFFER;
                buffer.clear();
            }
        }
    }

    /** Writes what is still buffered (whole blocks directly, the rest through the page cache) and lets go. */
    @Override
    public void close() throws IOException {
        if (buffer == null) {
            return; // closed already: the buffer and its permit are given back once
        }
        try {
            if (failed) {
                return;
            }
            int held = buffer.position();
            int whole = held - held % block;
            if (whole > 0) {
                writeFully(direct, buffer.duplicate().position(0).limit(whole), bufferStart);
            }
            if (held > whole) {
                writeFully(file, buffer.duplicate().position(whole).limit(held), bufferStart + whole);
            }
        } finally {
            give(buffer);
            buffer = null;
            direct.close();
        }
    }

    private static void writeFully(FileChannel channel, ByteBuffer bytes, long position) throws IOException {
        while (bytes.hasRemaining()) {
            position += channel.write(bytes, position);
        }
    }

    private static ByteBuffer take(int block) {
        ByteBuffer buffer = FREE.poll();
        if (buffer == null || buffer.alignmentOffset(0, block) != 0) {
            buffer = ByteBuffer.allocateDirect(BUFFER + block).alignedSlice(block).limit(BUFFER).slice();
        }
        return buffer.clear();
    }

    private static void give(ByteBuffer buffer) {
        FREE.offer(buffer);
        IN_USE.release();
    }
}
