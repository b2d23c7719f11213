package net.mailrelay.deploy.ops;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.OutputStreamAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class LogFormatTest {

    /** A context of its own with a text console appender named OUT, as logback.xml sets up. */
    static LoggerContext context() {
        LoggerContext context = new LoggerContext();
        context.setMDCAdapter(new ch.qos.logback.classic.util.LogbackMDCAdapter());
        context.start();
        PatternLayoutEncoder text = new PatternLayoutEncoder();
        text.setContext(context);
        text.setPattern("%level %logger{0}: %msg%n");
        text.start();
        ConsoleAppender<ILoggingEvent> out = new ConsoleAppender<>();
        out.setName("OUT");
        out.setContext(context);
        out.setEncoder(text);
        out.start();
        context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).addAppender(out);
        return context;
    }

    @Test
    void textKeepsTheConfiguredAppender() {
        LoggerContext context = context();
        LogFormat.apply("text", context);
        Logger root = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        assertThat(root.getAppender("OUT")).isNotNull();
        assertThat(root.getAppender("JSON")).isNull();
        context.stop();
    }

    @Test
    void jsonPrintsOneObjectPerLineWithTheQueueIdFirstInTheMessage() throws Exception {
        LoggerContext context = context();
        LogFormat.apply("json", context);
        Logger root = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        assertThat(root.getAppender("OUT")).isNull();
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        ((OutputStreamAppender<ILoggingEvent>) root.getAppender("JSON")).setOutputStream(captured);
        context.getLogger("net.mailrelay.edge.session.SmtpSession")
                .info("{}: from=<a@b.example>, size=424, nrcpt=1: queued", "01M8HP0WBHRMBEG60TYC");
        context.stop();

        String out = captured.toString(StandardCharsets.UTF_8);
        assertThat(out.lines()).as(out).hasSize(1);
        JsonNode line = new ObjectMapper().readTree(out);
        assertThat(line.get("level").asText()).isEqualTo("INFO");
        assertThat(line.get("loggerName").asText()).isEqualTo("net.mailrelay.edge.session.SmtpSession");
        assertThat(line.path("formattedMessage").asText()).as(out)
                .isEqualTo("01M8HP0WBHRMBEG60TYC: from=<a@b.example>, size=424, nrcpt=1: queued");
        assertThat(line.has("timestamp")).isTrue();
    }
}
