package dev.berth.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class ConfigLoaderTest {
    private static ConfigLoader.Loaded load(String json) throws ConfigException {
        return ConfigLoader.parse(json.getBytes(StandardCharsets.UTF_8), "test.json");
    }

    /** A file with the required storage section and then {@code sections}, e.g. {@code "http":{...}}. */
    private static String withRoot(String sections) {
        return "{\"storage\":{\"rootDirectory\":\"berth-data\"}" + (sections.isEmpty() ? "" : "," + sections) + "}";
    }

    private static void assertProblem(String json, String problem) {
        assertThatThrownBy(() -> load(json)).isInstanceOfSatisfying(ConfigException.class,
                e -> assertThat(e.problems()).anySatisfy(p -> assertThat(p).contains(problem)));
    }

    @Test
    void onlyTheRootDirectoryIsRequired() throws Exception {
        ConfigLoader.Loaded loaded = load("{\"storage\":{\"rootDirectory\":\"berth-data\"}}");
        assertThat(loaded.config()).isEqualTo(BerthConfig.defaults());
        assertThat(loaded.warnings()).isEmpty();
    }

    @Test
    void theWebUiIsOnUnlessSwitchedOff() throws Exception {
        assertThat(load(withRoot("")).config().ui()).isTrue();
        assertThat(load(withRoot("\"extensions\":{\"ui\":{\"enable\":true}}")).config().ui()).isTrue();
        ConfigLoader.Loaded off = load(withRoot("\"extensions\":{\"ui\":{\"enable\":false}}"));
        assertThat(off.config().ui()).isFalse();
        assertThat(off.warnings()).isEmpty();
        assertProblem(withRoot("\"extensions\":{\"ui\":{\"enable\":\"no\"}}"), "extensions.ui.enable");
    }

    @Test
    void readsThePostgresDatabaseAndNeverPrintsItsPassword() throws Exception {
        BerthConfig.Database db = load("""
                {"storage":{"rootDirectory":"/srv/berth","database":{"url":"jdbc:postgresql://db:5432/berth",
                 "user":"berth","password":"s3cret","maxConnections":32}}}""").config().storage().database();
        assertThat(db).isEqualTo(new BerthConfig.Database("jdbc:postgresql://db:5432/berth", "berth", "s3cret", 32));
        assertThat(db.toString()).doesNotContain("s3cret");
        assertThat(load(withRoot("")).config().storage().database()).isNull();
        BerthConfig.Database defaults = load("""
                {"storage":{"rootDirectory":"/srv","database":{"url":"jdbc:postgresql://db/berth"}}}""")
                .config().storage().database();
        assertThat(defaults.maxConnections()).isEqualTo(BerthConfig.Database.DEFAULT_MAX_CONNECTIONS);
        assertProblem("{\"storage\":{\"rootDirectory\":\"/srv\",\"database\":{}}}", "storage.database.url: required");
        assertProblem("{\"storage\":{\"rootDirectory\":\"/srv\",\"database\":{\"url\":\"jdbc:mysql://db/b\"}}}",
                "storage.database.url: must be a PostgreSQL JDBC URL");
        assertProblem("{\"storage\":{\"rootDirectory\":\"/srv\",\"database\":{\"url\":\"jdbc:postgresql://db/b\","
                + "\"maxConnections\":2}}}", "storage.database.maxConnections: must be at least 4");
    }

    @Test
    void aMisspeltRootDirectoryStopsRatherThanStoringElsewhere() {
        assertProblem("{}", "storage.rootDirectory: required");
        assertThatThrownBy(() -> load("{\"storage\":{\"rootDirectroy\":\"/srv\"}}"))
                .isInstanceOfSatisfying(ConfigException.class, e -> {
                    assertThat(e.problems()).containsExactly("storage.rootDirectory: required");
                    assertThat(e.warnings()).containsExactly("storage.rootDirectroy: unknown key, ignored");
                });
    }

    @Test
    void readsWhatBerthUses() throws Exception {
        BerthConfig c = load("""
                {"distSpecVersion":"1.1.1",
                 "storage":{"rootDirectory":"/srv/berth","dedupe":true,"commit":true},
                 "http":{"address":"0.0.0.0","port":"5050","externalUrl":"https://registry.example.com",
                         "readTimeout":"1h","writeTimeout":"1h","idleTimeout":"2m","compat":["docker2s2"],
                         "maxConnections":100},
                 "log":{"level":"debug","output":"/tmp/berth.log"}}
                """).config();
        assertThat(c.storage().rootDirectory()).isEqualTo(Path.of("/srv/berth"));
        assertThat(c.http().address()).isEqualTo("0.0.0.0");
        assertThat(c.http().port()).isEqualTo(5050);
        assertThat(c.http().externalUrl()).isEqualTo(URI.create("https://registry.example.com"));
        assertThat(c.http().idleTimeout()).isEqualTo(Duration.ofMinutes(2));
        assertThat(c.http().maxConnections()).isEqualTo(100);
        assertThat(c.log()).isEqualTo(new BerthConfig.Log("debug", Path.of("/tmp/berth.log"), null));
    }

    @Test
    void matchesKeysCaseInsensitivelyAsZotDoes() throws Exception {
        BerthConfig c = load("{\"Storage\":{\"RootDirectory\":\"/x\"},\"HTTP\":{\"Port\":5051}}").config();
        assertThat(c.http().tls()).isNull();
        assertThat(c.storage().rootDirectory()).isEqualTo(Path.of("/x"));
        assertThat(c.http().port()).isEqualTo(5051);
    }

    @Test
    void namesTheKeyOfAnInvalidValue() {
        assertProblem(withRoot("\"http\":{\"port\":\"http\"}"), "http.port: must be a port number");
        assertProblem(withRoot("\"http\":{\"port\":70000}"), "http.port: must be a port number");
        assertProblem(withRoot("\"http\":{\"readTimeout\":\"forever\"}"), "http.readTimeout: invalid duration");
        assertProblem(withRoot("\"http\":{\"idleTimeout\":30}"), "http.idleTimeout: must be a duration string");
        assertProblem(withRoot("\"http\":{\"externalUrl\":\"registry.example.com\"}"), "http.externalUrl: must be an absolute");
        assertProblem(withRoot("\"http\":{\"tls\":{\"cert\":\"c.pem\"}}"), "http.tls.key: required");
        assertProblem("{\"http\":{\"tls\":{\"cert\":\"/nonexistent/c.pem\",\"key\":\"/nonexistent/k.pem\"}}}",
                "http.tls.cert: /nonexistent/c.pem is not a readable file");
        assertProblem(withRoot("\"http\":{\"maxConnections\":0}"), "http.maxConnections: must be a positive whole number");
        assertProblem("{\"storage\":{\"rootDirectory\":5}}", "storage.rootDirectory: must be a string");
        assertProblem("{\"storage\":{\"dedupe\":\"yes\"}}", "storage.dedupe: must be true or false");
        assertProblem(withRoot("\"log\":{\"level\":\"loud\"}"), "log.level: must be one of");
        assertProblem(withRoot("\"http\":[]"), "http: must be an object");
    }

    @Test
    void reportsEveryProblemAtOnce() {
        assertThatThrownBy(() -> load(withRoot("\"http\":{\"port\":\"x\",\"idleTimeout\":\"y\"},\"log\":{\"level\":\"z\"}")))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.problems()).hasSize(3));
    }

    @Test
    void refusesInvalidJsonWithItsPosition() {
        assertProblem("{\"http\": {\n\"port\": }", "not valid JSON at line 2");
        assertProblem("{\"a\":1,\"a\":2}", "not valid JSON");
        assertProblem("[1]", "must be a JSON object");
    }

    @Test
    void warnsAboutWhatHasNoEffectYet() throws Exception {
        ConfigLoader.Loaded loaded = load("""
                {"storage":{"rootDirectory":"/srv","gc":true,"gcDelay":"1h","gcTimeWindow":"01:00-02:00",
                            "retention":{"policies":[{"repositories":["**"],"keepUntagged":{"pulledWithin":"1h"}}]}},
                 "http":{"ratelimit":{"rate":5}},
                 "extensions":{"search":{"enable":true},"metrics":{"enable":false},"ui":{"enable":true}},
                 "bogus":1, "http2":{}}
                """);
        assertThat(loaded.warnings()).anySatisfy(w -> assertThat(w).startsWith("storage.gcTimeWindow:"))
                .noneSatisfy(w -> assertThat(w).startsWith("storage.gc:"))
                .noneSatisfy(w -> assertThat(w).startsWith("storage.gcDelay:"))
                .anySatisfy(w -> assertThat(w).startsWith("storage.retention.policies[0].keepUntagged:"))
                .anySatisfy(w -> assertThat(w).startsWith("http.ratelimit:"))
                .anySatisfy(w -> assertThat(w).startsWith("extensions.search:"))
                .noneSatisfy(w -> assertThat(w).startsWith("extensions.ui"))
                .anySatisfy(w -> assertThat(w).isEqualTo("bogus: unknown key, ignored"))
                .anySatisfy(w -> assertThat(w).isEqualTo("http2: unknown key, ignored"))
                .noneSatisfy(w -> assertThat(w).startsWith("extensions.metrics"));
    }

    @Test
    void readsGarbageCollectionAsZotWritesIt() throws Exception {
        BerthConfig.Gc gc = load(withRoot("").replace("\"berth-data\"", "\"/srv\",\"gc\":true,\"gcDelay\":\"2h\","
                + "\"gcInterval\":\"30m\",\"retention\":{\"dryRun\":true}")).config().storage().gc();
        assertThat(gc).isEqualTo(new BerthConfig.Gc(true, Duration.ofHours(2), Duration.ofMinutes(30), true));
        assertThat(load(withRoot("")).config().storage().gc()).isEqualTo(BerthConfig.Gc.DEFAULT);
        assertProblem(withRoot("").replace("\"berth-data\"", "\"/srv\",\"gcInterval\":\"0s\""),
                "storage.gcInterval: must be longer than 0");
    }

    @Test
    void readsRetentionPoliciesAsZotWritesThem() throws Exception {
        BerthConfig.Gc gc = load(withRoot("").replace("\"berth-data\"", "\"/srv\",\"gcDelay\":\"1h\",\"retention\":{"
                + "\"dryRun\":true,\"delay\":\"24h\",\"policies\":[{\"repositories\":[\"infra/*\",\"prod/*\"],"
                + "\"deleteReferrers\":true,\"keepTags\":[{\"patterns\":[\"v2.*\"]},{\"mostRecentlyPushedCount\":10,"
                + "\"pulledWithin\":\"720h\"}]}]}")).config().storage().gc();
        assertThat(gc.dryRun()).isTrue();
        assertThat(gc.untaggedDelay()).isEqualTo(Duration.ofHours(24));
        assertThat(gc.policies()).containsExactly(new RetentionPolicy(List.of("infra/*", "prod/*"), true, true, List.of(
                new RetentionPolicy.KeepTags(List.of("v2.*"), 0, 0, null, null),
                new RetentionPolicy.KeepTags(List.of(), 10, 0, Duration.ofHours(720), null))));
        assertProblem(withRoot("").replace("\"berth-data\"", "\"/srv\",\"retention\":{\"policies\":[{\"keepTags\":"
                + "[{\"patterns\":[\"(\"]}]}]}"), "storage.retention.policies[0].keepTags[0].patterns");
        // zot's documented default policy names no repositories: it governs them all.
        BerthConfig.Gc everything = load(withRoot("").replace("\"berth-data\"", "\"/srv\",\"retention\":{\"policies\":"
                + "[{\"keepTags\":[{\"patterns\":[\".*\"]}]}]}")).config().storage().gc();
        assertThat(everything.policies().get(0).repositories()).containsExactly("**");
        ConfigLoader.Loaded off = load(withRoot("").replace("\"berth-data\"", "\"/srv\",\"gc\":false,\"gcDelay\":\"0s\","
                + "\"retention\":{\"policies\":[{\"keepTags\":[{\"patterns\":[\".*\"]}]}]}"));
        assertThat(off.warnings()).anyMatch(w -> w.startsWith("storage.retention:") && w.contains("never run"));
        ConfigLoader.Loaded noDelay = load(withRoot("").replace("\"berth-data\"", "\"/srv\",\"gcDelay\":\"0s\""));
        assertThat(noDelay.warnings()).anyMatch(w -> w.startsWith("storage.gcDelay:"));
    }

    @Test
    void aLogFileBerthCannotWriteIsRefusedRatherThanLoggingNowhere(@org.junit.jupiter.api.io.TempDir Path dir) {
        assertProblem(withRoot("\"log\":{\"output\":\"" + dir + "\"}"), "log.output: is a directory");
        assertProblem(withRoot("\"log\":{\"output\":\"" + dir.resolve("no/such/berth.log") + "\"}"),
                "log.output: cannot be written");
        assertProblem(withRoot("\"log\":{\"audit\":\"/proc/nope/audit.log\"}"), "log.audit: cannot be written");
    }

    @Test
    void scrubIsOffUnlessConfiguredAndNeverMoreOftenThanZotAllows() throws Exception {
        assertThat(load(withRoot("")).config().storage().scrub().enabled()).isFalse();
        ConfigLoader.Loaded on = load(withRoot("\"extensions\":{\"scrub\":{\"interval\":\"30m\"}}"));
        assertThat(on.config().storage().scrub()).isEqualTo(new BerthConfig.Scrub(true, Duration.ofHours(2)));
        assertThat(on.warnings()).contains("extensions.scrub.interval: shorter than the minimum of 2h; 2h is used");
        assertThat(load(withRoot("\"extensions\":{\"scrub\":{\"enable\":false}}")).config().storage().scrub().enabled())
                .isFalse();
    }

    @Test
    void syncSettingsThatCannotWorkAsMeantAreNamed() throws Exception {
        ConfigLoader.Loaded loaded = load(withRoot("\"extensions\":{\"sync\":{\"registries\":["
                + "{\"urls\":[\"https://ghcr.io\"],\"content\":[{\"prefix\":\"**\"}]}]}}"));
        assertThat(loaded.warnings())
                .anySatisfy(w -> assertThat(w).contains("registries[0].content").contains("every push is refused"))
                .anySatisfy(w -> assertThat(w).contains("neither onDemand nor pollInterval"));
        assertThatThrownBy(() -> load(withRoot("\"extensions\":{\"sync\":{\"registries\":[{\"urls\":[\"ghcr.io\"]}]}}")))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.problems())
                        .as("one error for a URL without a scheme, not two").hasSize(1)
                        .allSatisfy(p -> assertThat(p).contains("is not an http(s) URL")));
        assertProblem(withRoot("\"extensions\":{\"sync\":{\"credentialsFile\":\"/no/such/file.json\",\"registries\":"
                + "[{\"urls\":[\"https://ghcr.io\"],\"onDemand\":true}]}}"), "is not a readable file");
    }

    @Test
    void refusesSettingsWhoseAbsenceWouldStoreDataElsewhere() {
        assertProblem("{\"storage\":{\"rootDirectory\":\"/srv\",\"storageDriver\":{\"name\":\"gcs\"}}}",
                "storage.storageDriver.name: only s3 is supported");
        assertProblem("{\"storage\":{\"rootDirectory\":\"/srv\",\"storageDriver\":{\"name\":\"s3\"}}}",
                "storage.storageDriver.bucket: required");
        assertProblem("{\"storage\":{\"rootDirectory\":\"/srv\",\"storageDriver\":{\"name\":\"s3\","
                + "\"bucket\":\"b\",\"accesskey\":\"k\"}}}", "storage.storageDriver.secretkey: accesskey and secretkey go together");
    }

    @Test
    void readsZotsS3DriverKeysAndNeverPrintsTheSecret() throws Exception {
        BerthConfig.ObjectStore s3 = load("""
                {"storage":{"rootDirectory":"/srv","storageDriver":{"name":"s3","region":"eu-west-1",
                 "regionendpoint":"minio.local:9000","secure":false,"bucket":"images","rootdirectory":"/zot/",
                 "forcepathstyle":true,"accesskey":"AK","secretkey":"very-secret"}}}""").config().storage().objectStore();
        assertThat(s3).isEqualTo(new BerthConfig.ObjectStore("images", "eu-west-1",
                java.net.URI.create("http://minio.local:9000"), "zot", true, "AK", "very-secret"));
        assertThat(s3.toString()).doesNotContain("very-secret");
        BerthConfig.ObjectStore aws = load("""
                {"storage":{"rootDirectory":"/srv","storageDriver":{"name":"s3","region":"us-east-2","bucket":"b"}}}""")
                .config().storage().objectStore();
        assertThat(aws).isEqualTo(new BerthConfig.ObjectStore("b", "us-east-2", null, "", false, null, null));
        assertThat(load("""
                {"storage":{"rootDirectory":"/srv","gcDelay":"30s","storageDriver":{"name":"s3","region":"eu-west-1","bucket":"b"}}}""")
                .warnings()).anyMatch(w -> w.startsWith("storage.gcDelay: with blobs in S3"));
        assertThat(load("""
                {"storage":{"rootDirectory":"/srv","storageDriver":{"name":"s3","bucket":"b",
                 "regionendpoint":"https://s3.example"}}}""").config().storage().objectStore().region())
                .isEqualTo("us-east-1");
    }

    @Test
    void aRootDirectoryUnderTildeIsWarnedAboutSinceNothingExpandsIt() throws Exception {
        assertThat(load("{\"storage\":{\"rootDirectory\":\"~/berth\"}}").warnings())
                .containsExactly("storage.rootDirectory: \"~\" is not expanded: this is a directory named ~ under the"
                        + " working directory; write the whole path");
        assertThat(load("{\"storage\":{\"rootDirectory\":\"/srv/~x\"}}").warnings()).isEmpty();
    }
}
