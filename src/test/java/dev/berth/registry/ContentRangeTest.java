package dev.berth.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.berth.oci.ErrorCode;
import dev.berth.oci.RegistryException;
import org.junit.jupiter.api.Test;

class ContentRangeTest {
    @Test
    void readsTheSpecFormAndTheHttpForm() {
        assertThat(ContentRange.parse("0-1023")).isEqualTo(new ContentRange(0, 1023));
        assertThat(ContentRange.parse("bytes 1024-2047/*")).isEqualTo(new ContentRange(1024, 2047));
        assertThat(ContentRange.parse("bytes=5-9")).isEqualTo(new ContentRange(5, 9));
        assertThat(ContentRange.parse("0-1023").length()).isEqualTo(1024);
        assertThat(ContentRange.parse(null)).isNull();
        assertThat(ContentRange.parse("  ")).isNull();
    }

    @Test
    void refusesMalformedRanges() {
        for (String bad : new String[] {"0", "a-b", "-5", "0-", "1-2-3", "0-99999999999999999999"}) {
            assertThatThrownBy(() -> ContentRange.parse(bad)).as(bad).isInstanceOfSatisfying(RegistryException.class,
                    e -> assertThat(e.code()).isEqualTo(ErrorCode.BLOB_UPLOAD_INVALID));
        }
    }
}
