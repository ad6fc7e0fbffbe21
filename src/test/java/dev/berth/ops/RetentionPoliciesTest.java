package dev.berth.ops;

import static org.assertj.core.api.Assertions.assertThat;

import dev.berth.config.BerthConfig;
import dev.berth.config.RetentionPolicy;
import dev.berth.config.RetentionPolicy.KeepTags;
import dev.berth.config.SyncConfig;
import dev.berth.ops.GarbageCollector.Report;
import dev.berth.testing.RegistryClient;
import dev.berth.testing.TestBerth;
import dev.berth.testing.TestImages;
import dev.berth.testing.TestImages.Image;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Retention policies in zot's format against a real Berth: exactly the tags a policy keeps stay, pulls count,
 * a dry run changes nothing, and a mirror's cache is trimmed to what was used lately.
 */
class RetentionPoliciesTest {
    @RegisterExtension
    static final TestBerth UPSTREAM = new TestBerth();

    @RegisterExtension
    static final TestBerth BERTH = new TestBerth(c -> c.withStorage(c.storage().withGc(new BerthConfig.Gc(true,
            Duration.ZERO, Duration.ofHours(1), false, Duration.ZERO, List.of(
                    new RetentionPolicy(List.of("releases/**"), false, true, List.of(
                            new KeepTags(List.of("^v"), 2, 1, null, null))),
                    new RetentionPolicy(List.of("mirror.example/**"), false, true, List.of(
                            new KeepTags(List.of(), 0, 0, Duration.ofMillis(1500), null))),
                    new RetentionPolicy(List.of("keep-untagged/**"), false, false, List.of())))))
            .withSync(new SyncConfig(true, List.of(new SyncConfig.Upstream(List.of(UPSTREAM.uri()), true, null,
                    List.of(new SyncConfig.Content("**", "mirror.example", false, null, null, false)), true, null, 0,
                    Duration.ofMillis(10), Duration.ofMinutes(5), List.of(), List.of(), Map.of())))));

    private static RegistryClient client() {
        return BERTH.client();
    }

    private static List<String> tags(String repo) {
        var r = client().get("/v2/" + repo + "/tags/list");
        if (r.status() == 404) {
            return List.of();
        }
        List<String> names = new java.util.ArrayList<>();
        r.json().path("tags").forEach(t -> names.add(t.asText()));
        return names;
    }

    @Test
    void exactlyTheTagsThePolicyKeepsStay() throws Exception {
        String repo = TestBerth.newRepository("releases");
        Map<String, Image> pushed = new LinkedHashMap<>();
        for (String tag : List.of("v1", "v2", "v3", "v4", "nightly", "dev")) {
            Image image = TestImages.image(1, 500);
            client().push(repo, tag, image);
            pushed.put(tag, image);
            Thread.sleep(20); // distinct push times
        }
        // v1 is the most recently pulled; v3 and v4 are the two most recently pushed v-tags.
        assertThat(client().get("/v2/" + repo + "/manifests/v1").status()).isEqualTo(200);

        Report dry = BERTH.berth().collectGarbage(true);
        assertThat(tags(repo)).as("a dry run deletes nothing").hasSize(6);
        Report real = BERTH.berth().collectGarbage(false);
        assertThat(real.tags()).isEqualTo(dry.tags());
        assertThat(tags(repo)).containsExactlyInAnyOrder("v1", "v3", "v4");
        assertThat(client().get("/v2/" + repo + "/manifests/" + pushed.get("v2").digest()).status())
                .as("the dropped tag's image is collected too").isEqualTo(404);
        assertThat(client().get("/v2/" + repo + "/manifests/" + pushed.get("nightly").digest()).status()).isEqualTo(404);
        assertThat(client().get("/v2/" + repo + "/manifests/v4").body()).isEqualTo(pushed.get("v4").manifest());
    }

    @Test
    void deleteUntaggedFalseKeepsUntaggedManifests() {
        String repo = TestBerth.newRepository("keep-untagged");
        Image old = TestImages.image(1, 300);
        client().push(repo, "v1", old);
        client().push(repo, "v1", TestImages.image(1, 300));
        BERTH.berth().collectGarbage(false);
        assertThat(client().get("/v2/" + repo + "/manifests/" + old.digest()).status()).isEqualTo(200);
    }

    @Test
    void aMirrorKeepsOnlyWhatWasUsedLately() throws Exception {
        String name = TestBerth.newRepository("up");
        Image used = TestImages.image(1, 300);
        Image unused = TestImages.image(1, 300);
        UPSTREAM.client().push(name, "used", used);
        UPSTREAM.client().push(name, "unused", unused);
        String local = "mirror.example/" + name;
        assertThat(client().get("/v2/" + local + "/manifests/used").status()).isEqualTo(200);
        assertThat(client().get("/v2/" + local + "/manifests/unused").status()).isEqualTo(200);
        Thread.sleep(1600); // both older than pulledWithin now
        assertThat(client().get("/v2/" + local + "/manifests/used").status()).isEqualTo(200); // served from the cache
        BERTH.berth().collectGarbage(false);
        assertThat(tags(local)).containsExactly("used");
        // What was trimmed comes back from upstream when asked for again.
        assertThat(client().get("/v2/" + local + "/manifests/unused").body()).isEqualTo(unused.manifest());
    }
}
