package dev.berth.http;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ByteRangeTest {
    private static ByteRange.Request of(String header) {
        return ByteRange.resolve(header, 2048);
    }

    @Test
    void resolvesSingleRanges() {
        assertThat(of("bytes=500-1499")).isEqualTo(new ByteRange.Partial(new ByteRange(500, 1499)));
        assertThat(of("bytes=500-")).isEqualTo(new ByteRange.Partial(new ByteRange(500, 2047)));
        assertThat(of("bytes=-500")).isEqualTo(new ByteRange.Partial(new ByteRange(1548, 2047)));
        assertThat(of("bytes=-5000")).isEqualTo(new ByteRange.Partial(new ByteRange(0, 2047)));
        assertThat(of("bytes=2000-5000")).isEqualTo(new ByteRange.Partial(new ByteRange(2000, 2047)));
        assertThat(of("bytes=0-0")).isEqualTo(new ByteRange.Partial(new ByteRange(0, 0)));
    }

    @Test
    void reportsUnsatisfiableRanges() {
        assertThat(of("bytes=500-0")).isInstanceOf(ByteRange.Unsatisfiable.class);
        assertThat(of("bytes=5000-10000")).isInstanceOf(ByteRange.Unsatisfiable.class);
        assertThat(of("bytes=2048-")).isInstanceOf(ByteRange.Unsatisfiable.class);
        assertThat(of("bytes=-0")).isInstanceOf(ByteRange.Unsatisfiable.class);
        assertThat(ByteRange.resolve("bytes=0-", 0)).isInstanceOf(ByteRange.Unsatisfiable.class);
    }

    @Test
    void servesTheWholeBlobForWhatItDoesNotServe() {
        assertThat(of(null)).isInstanceOf(ByteRange.Whole.class);
        assertThat(of("bytes=0-1,5-6")).isInstanceOf(ByteRange.Whole.class);
        assertThat(of("items=0-1")).isInstanceOf(ByteRange.Whole.class);
        assertThat(of("bytes=-")).isInstanceOf(ByteRange.Whole.class);
        assertThat(of("bytes=99999999999999999999-")).isInstanceOf(ByteRange.Whole.class);
    }
}
