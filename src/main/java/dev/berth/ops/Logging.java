package dev.berth.ops;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.FileAppender;
import dev.berth.config.BerthConfig;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Applies {@code log.level} and {@code log.output} to Logback (defaults come from logback.xml). */
public final class Logging {
    private static final String PATTERN = "%d{yyyy-MM-dd'T'HH:mm:ss.SSSXXX} %-5level %logger{24} - %msg%n";

    private Logging() {
    }

    public static void configure(BerthConfig.Log log) {
        if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext context)) {
            return;
        }
        ch.qos.logback.classic.Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
        root.setLevel(Level.toLevel(log.level(), Level.INFO));
        if (log.output() != null) {
            PatternLayoutEncoder encoder = new PatternLayoutEncoder();
            encoder.setContext(context);
            encoder.setPattern(PATTERN);
            encoder.start();
            FileAppender<ILoggingEvent> file = new FileAppender<>();
            file.setContext(context);
            file.setName("file");
            file.setFile(log.output().toString());
            file.setAppend(true);
            file.setEncoder(encoder);
            file.start();
            List<Appender<ILoggingEvent>> old = new ArrayList<>();
            root.iteratorForAppenders().forEachRemaining(old::add);
            root.addAppender(file);
            for (Appender<ILoggingEvent> appender : old) {
                root.detachAppender(appender);
                appender.stop();
            }
        }
    }
}
