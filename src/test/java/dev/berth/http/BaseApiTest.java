package dev.berth.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.berth.testing.RegistryClient;
import dev.berth.testing.RegistryClient.Response;
import dev.berth.testing.TestBerth;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class BaseApiTest {
    @RegisterExtension
    static final TestBerth BERTH = new TestBerth();

    private RegistryClient client() {
        return BERTH.client();
    }

    @Test
    void answersTheVersionCheck() {
        Response r = client().get("/v2/");
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.header("Docker-Distribution-API-Version")).isEqualTo("registry/2.0");
        assertThat(r.header("Content-Type")).isEqualTo("application/json");
        assertThat(r.text()).isEqualTo("{}");
        Response head = client().head("/v2/");
        assertThat(head.status()).isEqualTo(200);
        assertThat(head.body()).isEmpty();
        assertThat(client().get("/v2").status()).isEqualTo(200);
    }

    @Test
    void unknownEndpointsAre404InTheSpecFormat() {
        Response r = client().get("/v2/foo/bar/nothing");
        assertThat(r.status()).isEqualTo(404);
        assertThat(r.header("Content-Type")).isEqualTo("application/json");
        assertThat(r.header("Docker-Distribution-API-Version")).isEqualTo("registry/2.0");
        assertThat(r.json().path("errors").path(0).has("message")).isTrue();
        assertThat(client().get("/nothing").status()).isEqualTo(404);
    }

    @Test
    void wrongMethodsAre405WithAllow() {
        Response r = client().post("/v2/", new byte[0]);
        assertThat(r.status()).isEqualTo(405);
        assertThat(r.errorCode()).isEqualTo("UNSUPPORTED");
        assertThat(r.header("Allow")).isEqualTo("GET, HEAD");
        Response blob = client().post("/v2/a/blobs/sha256:" + "0".repeat(64), new byte[0]);
        assertThat(blob.status()).isEqualTo(405);
        assertThat(blob.header("Allow")).isEqualTo("GET, HEAD, DELETE");
    }

    @Test
    void invalidRepositoryNamesAre400() {
        for (String name : new String[] {"UPPER", "a..b", "-a", "a" .repeat(256)}) {
            Response r = client().get("/v2/" + name + "/tags/list");
            assertThat(r.status()).as(name).isEqualTo(400);
            assertThat(r.errorCode()).isEqualTo("NAME_INVALID");
        }
    }

    @Test
    void pathTraversalIsRefusedBeforeRouting() {
        Response r = client().get("/v2/a/%2e%2e/%2e%2e/blobs/uploads/x");
        assertThat(r.status()).isBetween(400, 404);
        Response encodedSlash = client().get("/v2/a%2Fb/tags/list");
        assertThat(encodedSlash.status()).isEqualTo(400);
    }

    @Test
    void healthEndpoints() {
        for (String path : new String[] {"/livez", "/readyz", "/startupz"}) {
            Response r = client().get(path);
            assertThat(r.status()).as(path).isEqualTo(200);
            assertThat(r.text()).isEqualTo("ok\n");
        }
    }
}
