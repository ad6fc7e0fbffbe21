package dev.berth.store;

import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

/** The whole store contract once more with pushes written through the page cache, as where direct writes are refused. */
class FileBlobStoreThroughPageCacheTest extends BlobStoreContract {
    @TempDir
    Path root;

    @Override
    protected BlobStore newStore() throws Exception {
        return new FileBlobStore(root, false);
    }
}
