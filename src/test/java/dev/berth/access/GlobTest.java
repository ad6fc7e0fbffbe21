package dev.berth.access;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class GlobTest {
    @Test
    void singleStarStaysInOneSegment() {
        Glob g = new Glob("team/*");
        assertThat(g.matches("team/app")).isTrue();
        assertThat(g.matches("team/app/sub")).isFalse();
        assertThat(g.matches("team")).isFalse();
        assertThat(g.matches("other/app")).isFalse();
    }

    @Test
    void doubleStarCrossesSegments() {
        assertThat(new Glob("**").matches("a/b/c")).isTrue();
        assertThat(new Glob("team/**").matches("team/app/sub")).isTrue();
        assertThat(new Glob("team/**").matches("team/app")).isTrue();
        assertThat(new Glob("team/**").matches("teamx/app")).isFalse();
        assertThat(new Glob("team/**").matches("team")).as("as doublestar: the directory itself").isTrue();
        assertThat(new Glob("**/app").matches("app")).isTrue();
        assertThat(new Glob("**/app").matches("a/b/app")).isTrue();
        assertThat(new Glob("a/**/z").matches("a/z")).isTrue();
        assertThat(new Glob("a/**/z").matches("a/b/c/z")).isTrue();
        assertThat(new Glob("a/**/z").matches("a/bz")).isFalse();
    }

    @Test
    void everythingElseIsLiteral() {
        assertThat(new Glob("docker.io/library/alpine").matches("docker.io/library/alpine")).isTrue();
        assertThat(new Glob("docker.io/library/alpine").matches("dockerxio/library/alpine")).isFalse();
        assertThat(new Glob("a?c").matches("abc")).isTrue();
        assertThat(new Glob("a?c").matches("a/c")).isFalse();
        assertThat(new Glob("a+b").matches("a+b")).isTrue();
        assertThat(new Glob("a+b").matches("aab")).isFalse();
    }
}
