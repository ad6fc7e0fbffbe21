package dev.berth.oci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class NamesTest {
    @ParameterizedTest
    @ValueSource(strings = {"a", "library/alpine", "docker.io/library/alpine", "a-b", "a--b", "a__b", "a.b", "a_b/c-d/e.f",
            "0", "quay.io/coreos/etcd"})
    void acceptsValidRepositoryNames(String name) {
        assertThat(Names.isRepository(name)).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "A", "Library/alpine", "a/", "/a", "a//b", "a..b", "a___b", "-a", "a-", "../etc", "a/../b",
            "a b", "a:b", "ä"})
    void refusesInvalidRepositoryNames(String name) {
        assertThat(Names.isRepository(name)).isFalse();
        assertThatThrownBy(() -> Names.requireRepository(name))
                .isInstanceOfSatisfying(RegistryException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NAME_INVALID));
    }

    @Test
    void limitsRepositoryNamesTo255Characters() {
        assertThat(Names.isRepository("a".repeat(255))).isTrue();
        assertThat(Names.isRepository("a".repeat(256))).isFalse();
    }

    @ParameterizedTest
    @ValueSource(strings = {"latest", "v1.2.3", "_x", "A-b_c.d", "sha256-abc"})
    void acceptsValidTags(String tag) {
        assertThat(Names.isTag(tag)).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"", ".x", "-x", "a/b", "a:b", "a b", "ä"})
    void refusesInvalidTags(String tag) {
        assertThat(Names.isTag(tag)).isFalse();
    }

    @Test
    void limitsTagsTo128Characters() {
        assertThat(Names.isTag("a".repeat(128))).isTrue();
        assertThat(Names.isTag("a".repeat(129))).isFalse();
    }

    @Test
    void parsesReferences() {
        assertThat(Reference.parse("latest").tag()).isEqualTo("latest");
        assertThat(Reference.parse("latest").isDigest()).isFalse();
        Reference byDigest = Reference.parse("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assertThat(byDigest.isDigest()).isTrue();
        assertThatThrownBy(() -> Reference.parse("-bad"))
                .isInstanceOfSatisfying(RegistryException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.TAG_INVALID));
        assertThatThrownBy(() -> Reference.parse("sha256:short"))
                .isInstanceOfSatisfying(RegistryException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.DIGEST_INVALID));
    }
}
