package dev.berth.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/** Runs an external program (a real client such as skopeo) and returns what it printed. */
public final class Command {
    private Command() {
    }

    public record Result(int exitCode, String output) {
    }

    /** Skips the calling test, saying why, when {@code program} is not installed. */
    public static void assumeInstalled(String program) {
        boolean found = Files.isExecutable(Path.of("/usr/bin", program))
                || Files.isExecutable(Path.of("/usr/local/bin", program))
                || Files.isExecutable(Path.of("/usr/sbin", program));
        Assumptions.assumeTrue(found, program + " is not installed (.ci/run installs it with apt-get); skipping");
    }

    public static Result run(Path workDir, Map<String, String> env, List<String> command) {
        try {
            Path log = Files.createTempFile("berth-cmd", ".log");
            ProcessBuilder builder = new ProcessBuilder(command).directory(workDir.toFile())
                    .redirectErrorStream(true).redirectOutput(log.toFile());
            builder.environment().putAll(env);
            Process process = builder.start();
            if (!process.waitFor(5, TimeUnit.MINUTES)) {
                process.destroyForcibly();
                throw new AssertionError(String.join(" ", command) + " timed out");
            }
            String output = Files.readString(log, StandardCharsets.UTF_8);
            Files.deleteIfExists(log);
            return new Result(process.exitValue(), output);
        } catch (IOException e) {
            throw new AssertionError("cannot run " + command, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** Runs and asserts success, returning the output. */
    public static String ok(Path workDir, Map<String, String> env, List<String> command) {
        Result result = run(workDir, env, command);
        assertThat(result.exitCode()).as("%s failed:%n%s", String.join(" ", command), result.output()).isZero();
        return result.output();
    }
}
