package dev.berth.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class CommandLineTest {
    @TempDir
    Path dir;

    private record Run(int code, String out, String err) {
    }

    private static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = new CommandLine(new Main());
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        int code = cli.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void everyCommandHasHelp() {
        for (String[] args : new String[][] {{"--help"}, {"serve", "--help"}, {"verify", "--help"}, {"gc", "--help"},
                {"scrub", "--help"}}) {
            Run run = run(args);
            assertThat(run.code()).isZero();
            assertThat(run.out()).contains("Usage: berth");
        }
        // The list of commands shows each one's first line: a whole sentence, not one cut off mid-way.
        assertThat(run("--help").out().lines().filter(l -> l.startsWith("  ") && !l.strip().startsWith("-")))
                .allSatisfy(line -> assertThat(line).endsWith("."));
        assertThat(run("--version").out()).startsWith("berth ");
    }

    @Test
    void verifyAcceptsAValidFileAndPrintsWarnings() throws Exception {
        Path file = dir.resolve("config.json");
        Files.writeString(file, "{\"storage\":{\"rootDirectory\":\"/tmp/x\",\"gc\":true,\"gcTimeWindow\":\"01:00-02:00\"},"
                + "\"http\":{\"port\":\"5050\"}}");
        Run run = run("verify", file.toString());
        assertThat(run.code()).isZero();
        assertThat(run.out()).contains("warning: storage.gcTimeWindow: garbage collection runs at any time of day")
                .contains(": valid");
    }

    @Test
    void verifyNamesTheOffendingKeyAndFails() throws Exception {
        Path file = dir.resolve("config.json");
        Files.writeString(file, "{\"storage\":{\"rootDirectory\":\"/srv\",\"gcTimeWindow\":\"x\",\"gcDelay\":\"1 hour\"},"
                + "\"http\":{\"port\":\"eighty\"}}");
        Run run = run("verify", file.toString());
        assertThat(run.code()).isEqualTo(1);
        assertThat(run.err()).contains("error: http.port: must be a port number").contains(": invalid")
                .contains("error: storage.gcDelay:")
                .as("warnings are not hidden by errors").contains("warning: storage.gcTimeWindow:");
        Run missing = run("verify", dir.resolve("absent.json").toString());
        assertThat(missing.code()).isEqualTo(1);
        assertThat(missing.err()).contains("no such file");
    }

    @Test
    void gcRefusesADirectoryInUseAndCollectsAStoppedOne() throws Exception {
        Path data = dir.resolve("data");
        Path file = dir.resolve("config.json");
        Files.writeString(file, "{\"storage\":{\"rootDirectory\":\"" + data + "\",\"gcDelay\":\"0s\"}}");
        try (dev.berth.testing.BerthProcess server = dev.berth.testing.BerthProcess.start(data)) {
            dev.berth.testing.RegistryClient client = server.client();
            client.pushBlob("cli/app", new byte[] {1, 2, 3}); // a blob no manifest uses
            Run busy = run("gc", "--config", file.toString());
            assertThat(busy.code()).isEqualTo(1);
            assertThat(busy.err()).contains("is in use by another Berth process");
        }
        Run dry = run("gc", "--dry-run", "--config", file.toString());
        assertThat(dry.code()).as(dry.err()).isZero();
        assertThat(dry.out()).contains("would delete 0 tags, 0 untagged manifests, 1 blob links, 1 blobs (3 bytes)");
        Run real = run("gc", "--config", file.toString());
        assertThat(real.out()).contains("deleted 0 tags, 0 untagged manifests, 1 blob links, 1 blobs (3 bytes)");
        assertThat(run("gc", "--config", file.toString()).out()).contains("deleted 0 tags, 0 untagged manifests, 0 blob links, 0 blobs");
    }

    @Test
    void scrubExitsThreeWhenItFindsCorruption() throws Exception {
        Path data = dir.resolve("data");
        Path file = dir.resolve("config.json");
        Files.writeString(file, "{\"storage\":{\"rootDirectory\":\"" + data + "\"}}");
        byte[] content = {1, 2, 3, 4, 5};
        dev.berth.oci.Digest digest;
        try (dev.berth.testing.BerthProcess server = dev.berth.testing.BerthProcess.start(data)) {
            digest = server.client().pushBlob("cli/app", content);
        }
        Run clean = run("scrub", "--config", file.toString());
        assertThat(clean.code()).as(clean.err()).isZero();
        assertThat(clean.out()).contains("checked 1 blobs (5 bytes)").contains("all intact");
        Files.write(data.resolve("blobs/sha256/" + digest.hex().substring(0, 2) + "/" + digest.hex()), new byte[] {9, 9});
        Run rotten = run("scrub", "--config", file.toString());
        assertThat(rotten.code()).isEqualTo(3);
        assertThat(rotten.out()).contains("1 corrupt, set aside").contains("corrupt: " + digest);
    }

    @Test
    void maintenanceOfADirectoryWithoutBerthsDataRefusesRatherThanReportingItClean() throws Exception {
        Path file = dir.resolve("typo.json");
        Files.writeString(file, "{\"storage\":{\"rootDirectory\":\"" + dir.resolve("data-typo") + "\"}}");
        for (String command : new String[] {"gc", "scrub"}) {
            Run run = run(command, "--config", file.toString());
            assertThat(run.code()).as(command).isEqualTo(2);
            assertThat(run.err()).contains("no Berth data in").contains("data-typo");
        }
        assertThat(dir.resolve("data-typo")).as("nothing created").doesNotExist();
        Run empty = run("import", Files.createDirectories(dir.resolve("not-zot")).toString(), "--config", file.toString());
        assertThat(empty.code()).isEqualTo(1);
        assertThat(empty.err()).contains("no OCI layouts");
    }

    @Test
    void logsAreJsonLinesWhenAsked() throws Exception {
        Path data = dir.resolve("data");
        Path logFile = dir.resolve("berth.log");
        try (dev.berth.testing.BerthProcess server = dev.berth.testing.BerthProcess.startWithLog(data,
                "{\"level\":\"info\",\"format\":\"json\",\"output\":\"" + logFile + "\"}")) {
            server.client().pushBlob("cli/json", new byte[] {7});
            // The access line is written just after the response; a graceful stop lets it land.
            assertThat(server.terminate()).isZero();
        }
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        java.util.List<String> lines = Files.readAllLines(logFile);
        assertThat(lines).isNotEmpty();
        for (String line : lines) {
            var entry = json.readTree(line); // every line is one JSON object
            assertThat(entry.path("time").asText()).isNotEmpty();
            assertThat(entry.path("level").asText()).isIn("trace", "debug", "info", "warn", "error");
        }
        assertThat(lines).anyMatch(l -> l.contains("\"logger\":\"berth.access\"") && l.contains("POST /v2/cli/json/blobs/uploads/"));
        assertThat(lines).anyMatch(l -> l.contains("serving http://127.0.0.1:"));
    }

    @Test
    void serveRefusesAnUnusableConfigBeforeStarting() throws Exception {
        Path file = dir.resolve("config.json");
        Files.writeString(file, "{\"storage\":{\"rootDirectory\":\"/srv\"},\"http\":{\"auth\":{\"htpasswd\":{\"path\":\"/x\"}}}}");
        Run run = run("serve", "--config", file.toString());
        assertThat(run.code()).isEqualTo(2);
        assertThat(run.err()).contains("http.auth.htpasswd.path: /x is not a readable file");
    }

    @Test
    void aPortInUseIsOneLineNotAStackTrace() throws Exception {
        try (java.net.ServerSocket taken = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            Path file = dir.resolve("config.json");
            Files.writeString(file, "{\"storage\":{\"rootDirectory\":\"" + dir.resolve("data") + "\"},"
                    + "\"http\":{\"port\":\"" + taken.getLocalPort() + "\"}}");
            Run run = run("serve", "--config", file.toString());
            assertThat(run.code()).isEqualTo(1);
            assertThat(run.err().strip()).startsWith("berth: cannot start: cannot listen on 127.0.0.1:" + taken.getLocalPort())
                    .doesNotContain("\tat ");
        }
    }

    @Test
    void unknownOptionsAreUsageErrors() {
        Run run = run("serve", "--bogus");
        assertThat(run.code()).isEqualTo(2);
        assertThat(run.err()).contains("Unknown option");
    }
}
