package dev.berth.meta;

import static org.assertj.core.api.Assertions.assertThat;

import dev.berth.oci.Digest;
import java.nio.file.Path;
import java.time.Clock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SqliteMetadataStoreTest extends MetadataStoreContract {
    @TempDir
    Path root;

    @Override
    protected MetadataStore newStore() {
        return JdbcMetadataStore.sqlite(root.resolve("berth.db"), Clock.systemUTC());
    }

    @Test
    void rowsSurviveReopeningAndMigrationsRunOnce() throws Exception {
        Digest d = digest("persisted");
        meta.linkBlob("r", d, 9);
        meta.close();
        meta = newStore();
        assertThat(meta.linkedBlobSize("r", d)).hasValue(9);
    }
}
