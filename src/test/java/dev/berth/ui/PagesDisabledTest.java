package dev.berth.ui;

import static org.assertj.core.api.Assertions.assertThat;

import dev.berth.config.BerthConfig;
import dev.berth.testing.TestBerth;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@code extensions.ui.enable: false}: no pages at all, the registry API as before. */
class PagesDisabledTest {
    @RegisterExtension
    static final TestBerth BERTH = new TestBerth(c -> new BerthConfig(c.storage(), c.http(), c.log(), c.metrics(),
            c.sync(), false));

    @Test
    void noPagesWhenSwitchedOff() {
        for (String path : new String[] {"/", "/explore", "/login", "/user/apikey", "/static/berth.css", "/image/a/b"}) {
            assertThat(BERTH.client().get(path).status()).as(path).isEqualTo(404);
        }
        assertThat(BERTH.client().get("/v2/").status()).isEqualTo(200);
    }
}
