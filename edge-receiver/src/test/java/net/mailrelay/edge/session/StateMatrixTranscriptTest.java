package net.mailrelay.edge.session;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.stream.Stream;
import net.mailrelay.edge.ClientGuard;
import net.mailrelay.edge.EdgeReceiver;
import net.mailrelay.edge.TestEdges;
import net.mailrelay.edge.policy.Cidr;
import net.mailrelay.testing.KafkaBroker;
import net.mailrelay.testing.KafkaFixture;
import net.mailrelay.testing.SmtpTranscript;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The state-by-command table of {@link SmtpSessionTest}, played over real sockets against a running
 * edge, plus the BDAT state: what the session decides is what a client sees on the wire.
 */
@ExtendWith(KafkaFixture.class)
class StateMatrixTranscriptTest {

    static EdgeReceiver edge;

    @BeforeAll
    static void start(KafkaBroker kafka) throws Exception {
        TestEdges t = new TestEdges(kafka.bootstrapServers(), kafka.freshTopics(List.of()));
        t.trusted = List.of(Cidr.parse("127.0.0.0/8"));
        edge = t.start(ClientGuard.NONE);
    }

    @AfterAll
    static void stop() {
        edge.close();
    }

    static Stream<Arguments> everyStateAndCommand() {
        return Stream.concat(SmtpSessionTest.everyStateAndCommand(), Stream.of(
                Arguments.of(SessionState.CHUNKING, "DATA", "503 5.5.1 Error: BDAT transfer in progress"),
                Arguments.of(SessionState.CHUNKING, "RCPT TO:<z@far.test>", "503 5.5.1 Error: BDAT transfer in progress"),
                Arguments.of(SessionState.CHUNKING, "MAIL FROM:<a@b.test>", "503 5.5.1 Error: nested MAIL command"),
                Arguments.of(SessionState.CHUNKING, "STARTTLS", "503 5.5.1 Error: MAIL transaction in progress"),
                Arguments.of(SessionState.CHUNKING, "RSET", "250 2.0.0 Ok"),
                Arguments.of(SessionState.CHUNKING, "NOOP", "250 2.0.0 Ok"),
                Arguments.of(SessionState.CONNECTED, "STARTTLS now", "501 5.5.4"),
                Arguments.of(SessionState.CONNECTED, "AUTH PLAIN", "503 5.5.1 Error: send HELO/EHLO first"),
                Arguments.of(SessionState.IDENTIFIED, "AUTH PLAIN", "503 5.5.1 Error: authentication not enabled"),
                Arguments.of(SessionState.RCPT_GIVEN, "AUTH PLAIN", "503 5.5.1 Error: MAIL transaction in progress")));
    }

    @ParameterizedTest(name = "{0} + {1}")
    @MethodSource("everyStateAndCommand")
    void theWireShowsTheTable(SessionState state, String command, String expected) {
        try (SmtpTranscript c = SmtpTranscript.connect("127.0.0.1", edge.smtpAddress().getPort())) {
            c.expect("220");
            List<String> script = switch (state) {
                case CONNECTED -> List.of();
                case IDENTIFIED -> List.of("EHLO client.test");
                case MAIL_GIVEN -> List.of("EHLO client.test", "MAIL FROM:<a@client.test>");
                case RCPT_GIVEN, CHUNKING -> List.of("EHLO client.test", "MAIL FROM:<a@client.test>", "RCPT TO:<b@far.test>");
                default -> throw new IllegalArgumentException(state.toString());
            };
            for (String line : script) {
                c.send(line);
                c.expect("250");
            }
            if (state == SessionState.CHUNKING) {
                c.sendRaw("BDAT 4\r\nabcd".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                c.expect("250 2.0.0 Ok: 4 octets received");
            }
            c.send(command);
            List<String> reply = c.readReply();
            String flat = String.join(" ", reply.stream().map(l -> l.substring(4)).toList());
            assertThat(reply.get(0).substring(0, 3) + " " + flat).startsWith(expected.replace("CLOSE ", ""));
        }
    }
}
