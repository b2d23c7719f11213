package net.mailrelay.edge;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.List;
import net.mailrelay.protocol.record.Topics;
import net.mailrelay.testing.KafkaBroker;
import net.mailrelay.testing.KafkaFixture;
import net.mailrelay.testing.RandomInputs;
import net.mailrelay.testing.SmtpTranscript;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Random input against a real edge: whatever a client sends, every answer is a well-formed SMTP reply,
 * no exception escapes to end the connection, and the server goes on serving other clients.
 */
@ExtendWith(KafkaFixture.class)
class EdgeFuzzTest {

    static EdgeReceiver edge;
    static final String[] VERBS = {"HELO ", "EHLO ", "MAIL FROM:", "RCPT TO:", "DATA", "BDAT ", "RSET", "NOOP", "VRFY ",
        "HELP", "STARTTLS", "AUTH ", "EXPN ", "", "mail from:<", "RCPT TO:<a@routed.test> "};

    @BeforeAll
    static void start(KafkaBroker kafka) throws Exception {
        Topics topics = kafka.freshTopics(List.of());
        TestEdges t = new TestEdges(kafka.bootstrapServers(), topics);
        t.maxConnectionsPerClient = 1000;
        edge = t.start(ClientGuard.NONE);
    }

    @AfterAll
    static void stop() {
        edge.close();
    }

    @Test
    void randomCommandsOnlyEverGetSmtpReplies() {
        long seed = System.nanoTime();
        RandomInputs inputs = new RandomInputs(seed);
        java.util.Random pick = new java.util.Random(seed);
        int replies = 0;
        for (int session = 0; session < 40; session++) {
            try (SmtpTranscript c = SmtpTranscript.connect("127.0.0.1", edge.smtpAddress().getPort())) {
                c.expect("220");
                if (pick.nextBoolean()) {
                    c.send("EHLO fuzz.test");
                    c.expect("250 ");
                }
                for (int i = 0; i < 30; i++) {
                    String line = VERBS[pick.nextInt(VERBS.length)] + inputs.next(6).replace("\r", "").replace("\n", "");
                    String upper = line.toUpperCase(java.util.Locale.ROOT);
                    if (upper.startsWith("BDAT") || upper.startsWith("DATA") || upper.startsWith("STARTTLS")) {
                        continue; // these change what the next bytes mean; they have their own tests
                    }
                    c.sendRaw((line + "\r\n").getBytes(StandardCharsets.UTF_8));
                    List<String> reply = c.readReply();
                    replies++;
                    for (String l : reply) {
                        assertThat(l).as("seed %d, after '%s'", seed, line).matches("[2345]\\d\\d[ -].*");
                    }
                    String last = reply.get(reply.size() - 1);
                    if (last.startsWith("421") || last.startsWith("221")) {
                        break; // too many errors: the server hung up, as it should
                    }
                }
            }
        }
        assertThat(replies).isGreaterThan(100);
        assertStillServing();
    }

    @Test
    void randomMessageContentEndsInOneReply() {
        long seed = System.nanoTime();
        RandomInputs inputs = new RandomInputs(seed);
        for (int i = 0; i < 30; i++) {
            byte[] noise = inputs.nextBytes(3000);
            try (SmtpTranscript c = SmtpTranscript.connect("127.0.0.1", edge.smtpAddress().getPort())) {
                c.expect("220");
                c.send("EHLO fuzz.test");
                c.expect("250 ");
                c.send("MAIL FROM:<a@fuzz.test>");
                c.expect("250");
                c.send("RCPT TO:<x@routed.test>");
                c.expect("250");
                c.send("DATA");
                c.expect("354");
                c.sendRaw(noise);
                // Whatever the noise held, this ends the data: a CRLF ends any line it left open.
                c.sendRaw("\r\n.\r\n".getBytes(StandardCharsets.US_ASCII));
                String reply = c.readReply().get(0);
                assertThat(reply).as("seed %d case %d", seed, i).matches("(250 2\\.0\\.0|552 5\\.3\\.4|550 5\\.5\\.2|554 5\\.4\\.6) .*");
            }
        }
        assertStillServing();
    }

    private static void assertStillServing() {
        try (SmtpTranscript c = SmtpTranscript.connect("127.0.0.1", edge.smtpAddress().getPort())) {
            c.expect("220");
            c.send("EHLO after.test");
            c.expect("250 ");
            c.send("QUIT");
            c.expect("221");
        }
    }
}
