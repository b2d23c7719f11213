package net.mailrelay.edge;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import javax.net.ssl.SSLContext;
import net.mailrelay.edge.auth.UsersFile;
import net.mailrelay.edge.policy.Cidr;
import net.mailrelay.edge.session.ListenerPolicy;
import net.mailrelay.testing.KafkaBroker;
import net.mailrelay.testing.KafkaFixture;
import net.mailrelay.testing.SmtpTranscript;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The open-relay matrix, through real edges on real sockets: every combination of listener (MX on 25,
 * submission on 587), client (in trusted networks or not), authentication, and recipient form (relay
 * domain, foreign domain, subdomain, source route, percent hack, bang path, quoted "@" local part,
 * address literal). Exactly the cells Postfix's permit_mynetworks, permit_sasl_authenticated,
 * reject_unauth_destination would allow relay; every other cell is refused at RCPT (or, on submission
 * without AUTH, at MAIL).
 */
@ExtendWith(KafkaFixture.class)
class OpenRelayMatrixTest {

    static final SSLContext TLS = SmtpTranscript.trustingTls();
    @TempDir
    static Path dir;
    static EdgeReceiver trustedEdge;
    static EdgeReceiver outsiderEdge;

    @BeforeAll
    static void start(KafkaBroker broker) throws Exception {
        Path users = dir.resolve("users");
        UsersFile.add(users, "alice", "correct horse".toCharArray());
        trustedEdge = edge(broker, users, List.of(Cidr.parse("127.0.0.0/8")));
        outsiderEdge = edge(broker, users, List.of());
    }

    static EdgeReceiver edge(KafkaBroker broker, Path users, List<Cidr> trusted) throws Exception {
        TestEdges t = new TestEdges(broker.bootstrapServers(), broker.freshTopics(List.of()))
                .listen(ListenerPolicy.forMx(true)).listen(ListenerPolicy.forSubmission());
        t.usersFile = users;
        t.trusted = trusted;
        t.relayDomains = Set.of("relay.test");
        return t.start(ClientGuard.NONE);
    }

    @AfterAll
    static void stop() {
        trustedEdge.close();
        outsiderEdge.close();
    }

    /** A recipient form, and whether it stays inside the relay domains without sender-specified routing. */
    record Form(String rcpt, boolean local) {
        @Override
        public String toString() {
            return rcpt;
        }
    }

    static final List<Form> FORMS = List.of(
            new Form("<user@relay.test>", true),
            new Form("<user@RELAY.Test>", true),
            new Form("<@hop.test:user@relay.test>", true),
            new Form("<user@foreign.test>", false),
            new Form("<user@sub.relay.test>", false),
            new Form("<@relay.test:user@foreign.test>", false),
            new Form("<@hop.test,@relay.test:user@foreign.test>", false),
            new Form("<user%foreign.test@relay.test>", false),
            new Form("<user!foreign.test@relay.test>", false),
            new Form("<foreign.test!user@relay.test>", false),
            new Form("<\"user@foreign.test\"@relay.test>", false),
            new Form("<\"user%foreign.test\"@relay.test>", false),
            new Form("<user@[192.0.2.1]>", false));

    static Stream<Arguments> cells() {
        List<Arguments> cells = new ArrayList<>();
        for (boolean trusted : new boolean[] {true, false}) {
            for (String listener : List.of("smtp", "submission")) {
                // AUTH is offered on submission only (inside TLS); port 25 takes mail, not logins.
                for (boolean auth : listener.equals("smtp") ? new boolean[] {false} : new boolean[] {false, true}) {
                    for (Form f : FORMS) {
                        cells.add(Arguments.of(trusted ? "trusted" : "outsider", listener, auth ? "auth" : "no-auth", f));
                    }
                }
            }
        }
        return cells.stream();
    }

    @ParameterizedTest(name = "{0} {1} {2} RCPT TO:{3}")
    @MethodSource("cells")
    void onlyTheAllowedCellsRelay(String client, String listener, String auth, Form form) {
        boolean trusted = client.equals("trusted");
        boolean authenticated = auth.equals("auth");
        EdgeReceiver edge = trusted ? trustedEdge : outsiderEdge;
        try (SmtpTranscript c = SmtpTranscript.connect("127.0.0.1", edge.address(listener).getPort())) {
            c.expect("220 ");
            c.send("EHLO client.test");
            c.expect("250 ");
            if (listener.equals("submission")) {
                c.send("STARTTLS");
                c.expect("220 ");
                c.startTls(TLS);
                c.send("EHLO client.test");
                c.expect("250 ");
            }
            if (authenticated) {
                c.send("AUTH PLAIN " + Base64.getEncoder().encodeToString("\0alice\0correct horse".getBytes(StandardCharsets.UTF_8)));
                c.expect("235 ");
            }
            c.send("MAIL FROM:<sender@client.test>");
            String mail = String.join("\n", c.readReply());
            if (listener.equals("submission") && !authenticated) {
                // RFC 6409: submission takes nothing without AUTH, whoever the client is.
                assertThat(mail).startsWith("530 5.7.0");
                return;
            }
            assertThat(mail).startsWith("250 ");
            c.send("RCPT TO:" + form.rcpt());
            String rcpt = String.join("\n", c.readReply());
            boolean allowed = trusted || authenticated || form.local();
            if (allowed) {
                assertThat(rcpt).as("RCPT TO:%s", form.rcpt()).startsWith("250 ");
            } else {
                assertThat(rcpt).as("RCPT TO:%s", form.rcpt()).matches("(?s)5\\d\\d 5\\.\\d\\.\\d+ .*");
                assertThat(rcpt).startsWith("554 5.7.1").contains("Relay access denied");
            }
            c.send("QUIT");
            c.expect("221 ");
        }
    }
}
