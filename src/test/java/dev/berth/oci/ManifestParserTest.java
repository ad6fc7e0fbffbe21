package dev.berth.oci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.junit.jupiter.api.Test;

class ManifestParserTest {
    private static final String D1 = "sha256:" + "1".repeat(64);
    private static final String D2 = "sha256:" + "2".repeat(64);

    private static Manifest parse(String json, String contentType) {
        return ManifestParser.parse(json.getBytes(StandardCharsets.UTF_8), contentType);
    }

    private static void assertInvalid(String json, String contentType, String messagePart) {
        assertThatThrownBy(() -> parse(json, contentType))
                .isInstanceOfSatisfying(RegistryException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.MANIFEST_INVALID))
                .hasMessageContaining(messagePart);
    }

    private static String image(String extra) {
        return "{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\",\"config\":{\"mediaType\":"
                + "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" + D1 + "\",\"size\":7},\"layers\":[{"
                + "\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" + D2 + "\",\"size\":9}]"
                + extra + "}";
    }

    @Test
    void readsAnImageManifest() {
        Manifest m = parse(image(""), MediaTypes.OCI_MANIFEST);
        assertThat(m.mediaType()).isEqualTo(MediaTypes.OCI_MANIFEST);
        assertThat(m.isIndex()).isFalse();
        assertThat(m.config().digest()).hasToString(D1);
        assertThat(m.layers()).extracting(d -> d.digest().toString()).containsExactly(D2);
        assertThat(m.references()).hasSize(2);
        assertThat(m.referrerArtifactType()).isEqualTo("application/vnd.oci.image.config.v1+json");
    }

    @Test
    void readsAnIndexWithSubjectAndArtifactType() {
        String json = "{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_INDEX + "\",\"artifactType\":\"x/y\","
                + "\"manifests\":[{\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\",\"digest\":\"" + D1 + "\",\"size\":3,"
                + "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}],"
                + "\"subject\":{\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\",\"digest\":\"" + D2 + "\",\"size\":5},"
                + "\"annotations\":{\"a\":\"b\"}}";
        Manifest m = parse(json, MediaTypes.OCI_INDEX);
        assertThat(m.isIndex()).isTrue();
        assertThat(m.manifests()).hasSize(1);
        assertThat(m.subject().digest()).hasToString(D2);
        assertThat(m.referrerArtifactType()).isEqualTo("x/y");
        assertThat(m.annotations()).containsEntry("a", "b");
    }

    @Test
    void infersTheTypeWhenNeitherHeaderNorFieldGiveIt() {
        String json = image("").replace("\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\",", "");
        assertThat(parse(json, null).mediaType()).isEqualTo(MediaTypes.OCI_MANIFEST);
        assertThat(parse(json, "application/json; charset=utf-8").mediaType()).isEqualTo(MediaTypes.OCI_MANIFEST);
        assertThat(parse("{\"schemaVersion\":2,\"manifests\":[]}", null).mediaType()).isEqualTo(MediaTypes.OCI_INDEX);
    }

    @Test
    void acceptsDockerSchema2() {
        String json = image("").replace(MediaTypes.OCI_MANIFEST, MediaTypes.DOCKER_MANIFEST);
        assertThat(parse(json, MediaTypes.DOCKER_MANIFEST).mediaType()).isEqualTo(MediaTypes.DOCKER_MANIFEST);
        String list = "{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.DOCKER_MANIFEST_LIST + "\",\"manifests\":[]}";
        assertThat(parse(list, MediaTypes.DOCKER_MANIFEST_LIST).isIndex()).isTrue();
    }

    @Test
    void ignoresContentTypeParametersAndCase() {
        assertThat(parse(image(""), "Application/VND.oci.image.manifest.v1+json; charset=utf-8").mediaType())
                .isEqualTo(MediaTypes.OCI_MANIFEST);
    }

    @Test
    void acceptsUnknownFields() {
        assertThat(parse(image(",\"org.example.custom\":{\"x\":[1,2]}"), MediaTypes.OCI_MANIFEST)).isNotNull();
    }

    @Test
    void refusesSchema1() {
        assertInvalid("{\"schemaVersion\":1,\"name\":\"x\",\"tag\":\"y\",\"fsLayers\":[]}", null, "schema 1");
        assertInvalid("{\"schemaVersion\":1}", MediaTypes.DOCKER_SCHEMA1_SIGNED, "schema 1");
    }

    @Test
    void refusesAMismatchBetweenHeaderAndField() {
        assertInvalid(image(""), MediaTypes.OCI_INDEX, "does not match the Content-Type");
    }

    @Test
    void refusesUnsupportedTypes() {
        assertInvalid(image("").replace(MediaTypes.OCI_MANIFEST, "application/vnd.example+json"),
                "application/vnd.example+json", "unsupported manifest media type");
    }

    @Test
    void refusesMalformedDocuments() {
        assertInvalid("not json", null, "not valid JSON");
        assertInvalid("[]", null, "JSON object");
        assertInvalid("{\"schemaVersion\":\"2\",\"manifests\":[]}", null, "schemaVersion");
        assertInvalid("{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\",\"layers\":[]}",
                null, "config: required");
        assertInvalid(image("").replace("\"size\":9", "\"size\":-1"), null, "layers[0].size");
        assertInvalid(image("").replace("\"size\":9", "\"size\":1.5"), null, "layers[0].size");
        assertInvalid(image("").replace(D2, "sha256:nothex"), null, "layers[0].digest");
        assertInvalid(image(",\"annotations\":{\"a\":1}"), null, "annotations.a");
        assertInvalid(image(",\"mediaType\":\"x\""), null, "not valid JSON");
    }

    @Test
    void checksEmbeddedData() {
        byte[] content = "{}".getBytes(StandardCharsets.UTF_8);
        String digest = Digest.compute(DigestAlgorithm.SHA256, content).toString();
        String good = "{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\",\"config\":{\"mediaType\":"
                + "\"application/vnd.oci.empty.v1+json\",\"digest\":\"" + digest + "\",\"size\":2,\"data\":\""
                + Base64.getEncoder().encodeToString(content) + "\"},\"layers\":[]}";
        assertThat(parse(good, null).config().size()).isEqualTo(2);
        assertInvalid(good.replace(Base64.getEncoder().encodeToString(content), Base64.getEncoder().encodeToString(new byte[2])),
                null, "config.data");
    }

    @Test
    void refusesWhatOtherParsersWouldReadDifferently() {
        String good = image("");
        assertInvalid(good + "xyz", null, "not valid JSON");
        assertInvalid(good + good, null, "not valid JSON");
        assertThatThrownBy(() -> ManifestParser.parse(good.getBytes(StandardCharsets.UTF_16), null))
                .hasMessageContaining("UTF-8");
        assertThatThrownBy(() -> ManifestParser.parse(("\uFEFF" + good).getBytes(StandardCharsets.UTF_8), null))
                .hasMessageContaining("byte-order mark");
        assertThatThrownBy(() -> ManifestParser.parse(new byte[] {'{', (byte) 0xff, '}'}, null))
                .hasMessageContaining("UTF-8");
        assertInvalid(good.replace("\"size\":9", "\"size\":9.0"), null, "layers[0].size");
        assertInvalid(good.replace("\"size\":9", "\"size\":9e0"), null, "layers[0].size");
        assertInvalid(good.replace("\"layers\"", "\"Layers\""), null, "field names are case-sensitive");
        assertInvalid(good.replace("\"digest\":\"" + D2, "\"DIGEST\":\"" + D2), null, "layers[0].DIGEST");
    }

    @Test
    void boundsTheSizeOfTheTree() {
        String many = image(",\"x\":[" + "0,".repeat(ManifestParser.MAX_TOKENS) + "0]");
        assertInvalid(many, null, "JSON tokens");
    }
}
