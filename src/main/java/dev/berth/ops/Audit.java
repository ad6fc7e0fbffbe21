package dev.berth.ops;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.FileAppender;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.LoggerFactory;

/**
 * The audit log ({@code log.audit}): one JSON line for every state-changing request (POST, PUT, PATCH, DELETE),
 * saying who did what and how it ended. Never holds a secret: no headers, no bodies.
 */
public final class Audit {
    public static final Audit NONE = new Audit(null);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final org.slf4j.Logger log;

    private Audit(org.slf4j.Logger log) {
        this.log = log;
    }

    /** An audit log appended to {@code file}, or {@link #NONE} when {@code file} is null. */
    public static Audit to(Path file) {
        if (file == null || !(LoggerFactory.getILoggerFactory() instanceof LoggerContext context)) {
            return NONE;
        }
        PatternLayoutEncoder encoder = new PatternLayoutEncoder();
        encoder.setContext(context);
        encoder.setPattern("%msg%n");
        encoder.start();
        FileAppender<ILoggingEvent> appender = new FileAppender<>();
        appender.setContext(context);
        appender.setName("audit");
        appender.setFile(file.toString());
        appender.setAppend(true);
        appender.setEncoder(encoder);
        appender.start();
        Logger logger = context.getLogger("berth.audit");
        logger.detachAndStopAllAppenders();
        logger.addAppender(appender);
        logger.setAdditive(false);
        logger.setLevel(Level.INFO);
        return new Audit(logger);
    }

    public boolean enabled() {
        return log != null;
    }

    public static boolean changesState(String method) {
        return method.equals("POST") || method.equals("PUT") || method.equals("PATCH") || method.equals("DELETE");
    }

    public void record(String user, String source, String method, String path, String query, int status, String client) {
        if (log == null) {
            return;
        }
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("time", Instant.now().toString());
        line.put("user", user);
        line.put("via", source);
        line.put("method", method);
        line.put("path", path);
        if (query != null && !query.isEmpty()) {
            line.put("query", query);
        }
        line.put("status", status);
        line.put("client", client);
        try {
            log.info(JSON.writeValueAsString(line));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
