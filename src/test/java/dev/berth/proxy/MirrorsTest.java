package dev.berth.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.berth.config.SyncConfig;
import dev.berth.oci.ErrorCode;
import dev.berth.oci.RegistryException;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MirrorsTest {
    private static SyncConfig.Upstream upstream(String url, List<SyncConfig.Content> content, List<String> unprefixed) {
        return new SyncConfig.Upstream(List.of(URI.create(url)), true, null, content, true, null, 0, Duration.ZERO,
                SyncConfig.DEFAULT_FRESHNESS, unprefixed, List.of(), Map.of());
    }

    private static SyncConfig.Content content(String prefix, String destination, boolean strip) {
        return new SyncConfig.Content(prefix, destination, strip, null, null, false);
    }

    /** The seed deployment: Docker Hub, GitHub and Quay under their host names. */
    private static Mirrors seed() {
        return new Mirrors(List.of(
                new Mirror(upstream("https://registry-1.docker.io", List.of(content("**", "docker.io", false)), List.of("library/**"))),
                new Mirror(upstream("https://ghcr.io", List.of(content("**", "ghcr.io", false)), List.of())),
                new Mirror(upstream("https://quay.io", List.of(content("**", "quay.io", false)), List.of()))));
    }

    @Test
    void mapsLocalNamesToUpstreamNames() {
        Mirrors m = seed();
        assertThat(m.route("docker.io/library/alpine").orElseThrow().upstreamRepository()).isEqualTo("library/alpine");
        assertThat(m.route("ghcr.io/owner/tool").orElseThrow().upstreamRepository()).isEqualTo("owner/tool");
        assertThat(m.route("quay.io/coreos/etcd").orElseThrow().mirror().name()).isEqualTo("quay.io");
        assertThat(m.route("blumeops/app")).as("private repositories never go upstream").isEmpty();
        assertThat(m.route("docker.io")).isEmpty();
    }

    @Test
    void dockerHubOfficialImagesAreOneRepository() {
        Mirrors m = seed();
        assertThat(m.resolve("docker.io/alpine", null, null)).isEqualTo("docker.io/library/alpine");
        assertThat(m.resolve("docker.io/library/alpine", null, null)).isEqualTo("docker.io/library/alpine");
        assertThat(m.resolve("docker.io/bitnami/redis", null, null)).isEqualTo("docker.io/bitnami/redis");
        assertThat(m.resolve("ghcr.io/tool", null, null)).as("only Docker Hub has library/").isEqualTo("ghcr.io/tool");
    }

    @Test
    void containerdNamespacesPickTheUpstream() {
        Mirrors m = seed();
        assertThat(m.resolve("library/alpine", "docker.io", "registry.example.com")).isEqualTo("docker.io/library/alpine");
        assertThat(m.resolve("alpine", "registry-1.docker.io", null)).isEqualTo("docker.io/library/alpine");
        assertThat(m.resolve("library/alpine", "index.docker.io", null)).isEqualTo("docker.io/library/alpine");
        assertThat(m.resolve("owner/tool", "ghcr.io", null)).isEqualTo("ghcr.io/owner/tool");
        assertThat(m.resolve("blumeops/app", "registry.example.com", "registry.example.com"))
                .as("ns naming this registry itself is no mirror").isEqualTo("blumeops/app");
        assertThatThrownBy(() -> m.resolve("x/y", "evil.example.com", null))
                .isInstanceOfSatisfying(RegistryException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NAME_UNKNOWN));
    }

    @Test
    void unprefixedNamesGoWhereConfigured() {
        Mirrors m = seed();
        assertThat(m.resolve("library/nginx", null, null)).isEqualTo("docker.io/library/nginx");
        assertThat(m.resolve("blumeops/app", null, null)).isEqualTo("blumeops/app");
    }

    @Test
    void stripPrefixPutsTheLiteralPrefixBack() {
        Mirror mirror = new Mirror(upstream("https://registry.example.com", List.of(content("project/**", "mirror", true)), List.of()));
        assertThat(mirror.upstreamName("mirror/app")).hasValue("project/app");
        assertThat(mirror.localName("project/app")).hasValue("mirror/app");
        assertThat(mirror.upstreamName("other/app")).isEmpty();
        Mirror keep = new Mirror(upstream("https://registry.example.com", List.of(content("project/**", "mirror", false)), List.of()));
        assertThat(keep.upstreamName("mirror/project/app")).hasValue("project/app");
        assertThat(keep.upstreamName("mirror/other/app")).isEmpty();
    }

    @Test
    void aMirrorWithoutDestinationServesNamesAsTheyAre() {
        Mirror mirror = new Mirror(upstream("http://127.0.0.1:5000", List.of(content("team/**", "", false)), List.of()));
        assertThat(mirror.upstreamName("team/app")).hasValue("team/app");
        assertThat(mirror.upstreamName("other")).isEmpty();
        assertThat(mirror.isDockerHub()).isFalse();
    }

    @Test
    void containerdNamesAnUpstreamOnAnotherPortWithItsPort() {
        Mirrors m = new Mirrors(List.of(new Mirror(upstream("http://127.0.0.1:5301", List.of(content("**", "up", false)),
                List.of()))));
        assertThat(m.resolve("team/app", "127.0.0.1:5301", "berth.internal")).isEqualTo("up/team/app");
        assertThat(m.resolve("team/app", "127.0.0.1", "berth.internal")).isEqualTo("up/team/app");
    }

    @Test
    void onlyDockerHubsOwnAddressIsTreatedAsDockerHubsApi() {
        Mirror hub = new Mirror(upstream("https://registry-1.docker.io", List.of(content("**", "docker.io", false)), List.of()));
        Mirror proxy = new Mirror(upstream("https://harbor.example/v2-proxy", List.of(content("**", "docker.io", false)),
                List.of()));
        assertThat(hub.isDockerHub()).isTrue();
        assertThat(hub.upstreamIsDockerHub()).isTrue();
        assertThat(proxy.isDockerHub()).as("Docker Hub's names: library/ applies").isTrue();
        assertThat(proxy.upstreamIsDockerHub()).as("but it has a catalog, and a 401 means a 401").isFalse();
    }
}
