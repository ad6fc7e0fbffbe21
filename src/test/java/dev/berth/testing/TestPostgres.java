package dev.berth.testing;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;

/**
 * A real PostgreSQL server on loopback for the tests: Debian's {@code postgresql} package, started once per test
 * run in a temporary directory and stopped when the JVM exits. Each caller gets a database of its own. initdb
 * refuses to run as root, so as root the server runs as the {@code postgres} user the package creates.
 */
public final class TestPostgres {
    private static final String USER = "berth";
    private static final String PASSWORD = "berth-test-password";
    private static final AtomicInteger DATABASES = new AtomicInteger();
    private static TestPostgres server;

    private final int port;

    private TestPostgres(int port) {
        this.port = port;
    }

    /** A new, empty database; its JDBC URL. Skips the calling test when PostgreSQL is not installed. */
    public static synchronized String newDatabase() {
        if (server == null) {
            server = start();
        }
        String name = "berth_" + ProcessHandle.current().pid() + "_" + DATABASES.incrementAndGet();
        try (Connection c = DriverManager.getConnection(server.url("postgres"), USER, PASSWORD);
             Statement s = c.createStatement()) {
            // Collated as most production databases are (en-US, not bytes), so that byte order is proven, not luck.
            s.executeUpdate("CREATE DATABASE " + name + " TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu"
                    + " ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'");
        } catch (SQLException e) {
            throw new AssertionError("cannot create a test database", e);
        }
        return server.url(name);
    }

    public static String user() {
        return USER;
    }

    public static String password() {
        return PASSWORD;
    }

    private String url(String database) {
        return "jdbc:postgresql://127.0.0.1:" + port + "/" + database;
    }

    private static Path binaries() {
        try (Stream<Path> versions = Files.list(Path.of("/usr/lib/postgresql"))) {
            return versions.map(v -> v.resolve("bin")).filter(b -> Files.isExecutable(b.resolve("initdb")))
                    .max(Comparator.naturalOrder()).orElse(null);
        } catch (IOException e) {
            return null;
        }
    }

    private static TestPostgres start() {
        Path bin = binaries();
        Assumptions.assumeTrue(bin != null, "PostgreSQL is not installed (.ci/run installs Debian's postgresql); skipping");
        try {
            boolean root = "root".equals(System.getProperty("user.name"));
            Path dir = Files.createTempDirectory("berth-pg");
            Path data = dir.resolve("data");
            Path passwordFile = dir.resolve("password");
            Files.writeString(passwordFile, PASSWORD, StandardCharsets.UTF_8);
            int port;
            try (ServerSocket probe = new ServerSocket(0)) {
                port = probe.getLocalPort();
            }
            if (root) {
                run(List.of("chown", "-R", "postgres:postgres", dir.toString()), false);
            }
            run(List.of(bin.resolve("initdb").toString(), "-D", data.toString(), "-U", USER, "-A", "scram-sha-256",
                    "--pwfile=" + passwordFile, "-E", "UTF8", "--no-sync"), root);
            // Durability switched off: these tests are about behaviour, and the server's crash safety is its own.
            run(List.of(bin.resolve("pg_ctl").toString(), "-D", data.toString(), "-l", dir.resolve("log").toString(),
                    "-w", "-t", "60", "-o", "-p " + port + " -k " + dir + " -c listen_addresses=127.0.0.1"
                            + " -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
                    "start"), root);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    run(List.of(bin.resolve("pg_ctl").toString(), "-D", data.toString(), "-m", "immediate", "stop"), root);
                    deleteTree(dir);
                } catch (Exception ignored) {
                    // the JVM is going anyway
                }
            }));
            return new TestPostgres(port);
        } catch (IOException e) {
            throw new AssertionError("cannot start PostgreSQL", e);
        }
    }

    private static void run(List<String> command, boolean asPostgres) throws IOException {
        List<String> full = new ArrayList<>();
        if (asPostgres) {
            full.addAll(List.of("runuser", "-u", "postgres", "--"));
        }
        full.addAll(command);
        Process process = new ProcessBuilder(full).redirectErrorStream(true).start();
        try {
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(2, TimeUnit.MINUTES) || process.exitValue() != 0) {
                throw new IOException(String.join(" ", full) + " failed:\n" + output);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
