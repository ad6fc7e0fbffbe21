package dev.berth.ops;

import static org.assertj.core.api.Assertions.assertThat;

import dev.berth.testing.RegistryClient;
import dev.berth.testing.Scrape;
import dev.berth.testing.TestBerth;
import dev.berth.testing.TestImages;
import dev.berth.testing.TestImages.Image;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** zot's metric names after known traffic, so that zot's dashboards and alerts keep working. */
class MetricsTest {
    @RegisterExtension
    static final TestBerth BERTH = new TestBerth();

    @Test
    void zotsHttpAndRepositoryMetricsCountWhatHappened() {
        RegistryClient client = BERTH.client();
        String repo = TestBerth.newRepository("metrics");
        Scrape before = Scrape.of(client);
        Image image = TestImages.image(2, 10_000);
        client.push(repo, "v1", image);
        for (int i = 0; i < 3; i++) {
            assertThat(client.get("/v2/" + repo + "/manifests/v1").status()).isEqualTo(200);
        }
        assertThat(client.head("/v2/" + repo + "/manifests/v1").status()).isEqualTo(200);
        assertThat(client.get("/v2/no/such/manifests/v1").status()).isEqualTo(404);

        Scrape after = Scrape.of(client);
        String r = "repo=\"" + repo + "\"";
        assertThat(after.sum("zot_repo_uploads_total", r)).as("manifest PUTs").isEqualTo(1);
        assertThat(after.sum("zot_repo_downloads_total", r)).as("manifest GETs").isEqualTo(3);
        long bytes = image.manifest().length;
        for (byte[] blob : image.blobs()) {
            bytes += blob.length;
        }
        assertThat(after.sum("zot_repo_storage_bytes", r)).isEqualTo(bytes);
        assertThat(after.sum("zot_http_requests_total", "method=\"GET\"", "code=\"200\"")
                - before.sum("zot_http_requests_total", "method=\"GET\"", "code=\"200\"")).as("3 GETs, and the scrape")
                .isGreaterThanOrEqualTo(3);
        assertThat(after.sum("zot_http_requests_total", "method=\"PUT\"", "code=\"201\"")
                - before.sum("zot_http_requests_total", "method=\"PUT\"", "code=\"201\"")).isEqualTo(1);
        assertThat(after.sum("zot_http_requests_total", "method=\"GET\"", "code=\"404\"")
                - before.sum("zot_http_requests_total", "method=\"GET\"", "code=\"404\"")).isEqualTo(1);
        assertThat(after.has("zot_http_method_latency_seconds_bucket", "method=\"GET\"", "le=\"0.05\"")).as(after.text()).isTrue();
        assertThat(after.has("zot_http_method_latency_seconds_bucket", "method=\"GET\"", "le=\"600.0\"")).isTrue();
        assertThat(after.sum("zot_http_repo_latency_seconds_count", r)).as("PUTs, GETs and HEAD of the repository")
                .isGreaterThanOrEqualTo(5);
        assertThat(after.text()).as("a name that does not exist mints no series").doesNotContain("no/such");
        assertThat(after.has("zot_http_repo_latency_seconds_count", "repo=\"N/A\"")).isTrue();
        assertThat(after.has("zot_info", "binaryType=\"berth\"")).as(after.text()).isTrue();
        assertThat(after.has("process_cpu_usage")).isTrue();
        assertThat(after.has("jvm_memory_used_bytes")).isTrue();
    }

    @Test
    void callersCannotMintSeriesWithMadeUpMethodsOrNames() {
        RegistryClient client = BERTH.client();
        for (int i = 0; i < 5; i++) {
            client.send("BREW" + i, "/v2/", java.net.http.HttpRequest.BodyPublishers.noBody());
            // 200 (an empty list) and 202 (a new session) for names that hold nothing
            assertThat(client.get("/v2/made/up" + i + "/referrers/" + TestImages.sha256(new byte[] {1})).status())
                    .isEqualTo(200);
            assertThat(client.post("/v2/made/up" + i + "/blobs/uploads/", new byte[0]).status()).isEqualTo(202);
        }
        Scrape after = Scrape.of(client);
        assertThat(after.text()).doesNotContain("BREW").doesNotContain("made/up");
        assertThat(after.sum("zot_http_requests_total", "method=\"other\"")).isGreaterThanOrEqualTo(5);
    }
}
