package net.mailrelay.deploy.ops;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import org.slf4j.LoggerFactory;

/**
 * {@code log.format}: "text" keeps logback.xml's one line per event; "json" swaps the console appender
 * for logback's JSON encoder (one JSON object per line: timestamp, level, logger, thread, message), for
 * log shippers that want fields rather than lines. Message lines about mail still start with the queue id.
 */
public final class LogFormat {

    private LogFormat() {
    }

    public static void apply(String format) {
        if (LoggerFactory.getILoggerFactory() instanceof LoggerContext context) {
            apply(format, context);
        }
    }

    static void apply(String format, LoggerContext context) {
        if (!"json".equals(format)) {
            return;
        }
        Logger root = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        if (root.getAppender("JSON") != null) {
            return;
        }
        JsonEncoder encoder = new JsonEncoder();
        encoder.setContext(context);
        // The formatted message only: a log shipper wants the line as Postfix would print it, not a template.
        encoder.setWithFormattedMessage(true);
        encoder.setWithMessage(false);
        encoder.setWithArguments(false);
        encoder.setWithSequenceNumber(false);
        encoder.setWithNanoseconds(false);
        encoder.setWithContext(false);
        encoder.start();
        ConsoleAppender<ILoggingEvent> json = new ConsoleAppender<>();
        json.setName("JSON");
        json.setContext(context);
        json.setEncoder(encoder);
        json.start();
        root.detachAndStopAllAppenders();
        root.addAppender(json);
    }
}
