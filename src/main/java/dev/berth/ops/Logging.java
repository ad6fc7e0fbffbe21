package dev.berth.ops;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.OutputStreamAppender;
import ch.qos.logback.core.encoder.Encoder;
import ch.qos.logback.core.FileAppender;
import dev.berth.config.BerthConfig;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Applies {@code log.level}, {@code log.output} and {@code log.format} to Logback (defaults come from logback.xml). */
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
        if (log.output() == null && !log.json()) {
            return; // logback.xml's text on standard output
        }
        Encoder<ILoggingEvent> encoder;
        if (log.json()) {
            encoder = new JsonLogEncoder();
        } else {
            PatternLayoutEncoder text = new PatternLayoutEncoder();
            text.setPattern(PATTERN);
            encoder = text;
        }
        encoder.setContext(context);
        encoder.start();
        OutputStreamAppender<ILoggingEvent> appender;
        if (log.output() != null) {
            FileAppender<ILoggingEvent> file = new FileAppender<>();
            file.setFile(log.output().toString());
            file.setAppend(true);
            appender = file;
        } else {
            appender = new ConsoleAppender<>();
        }
        appender.setContext(context);
        appender.setName("berth");
        appender.setEncoder(encoder);
        appender.start();
        List<Appender<ILoggingEvent>> old = new ArrayList<>();
        root.iteratorForAppenders().forEachRemaining(old::add);
        root.addAppender(appender);
        for (Appender<ILoggingEvent> previous : old) {
            root.detachAppender(previous);
            previous.stop();
        }
    }
}
