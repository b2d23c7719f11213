package net.mailrelay.edge.session;

import static net.mailrelay.edge.session.SmtpSessionTest.CLOCK;
import static net.mailrelay.edge.session.SmtpSessionTest.reply;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import net.mailrelay.edge.policy.Cidr;
import net.mailrelay.edge.policy.RelayPolicy;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The open-relay matrix: every listener, trusted or not, authenticated or not, to a relay domain or a
 * foreign one, with plain, source-routed, percent-hack, bang-path and quoted addresses. Only the allowed
 * cells relay. {@code OpenRelayMatrixTest} runs the same questions through real edges on real sockets.
 */
class RelayMatrixTest {

    static final RelayPolicy POLICY = new RelayPolicy(List.of(Cidr.parse("10.0.0.0/8")), Set.of("relay.test"));

    static Stream<Arguments> cells() {
        List<Arguments> cells = new ArrayList<>();
        List<ListenerPolicy> listeners = List.of(ListenerPolicy.forMx(true), ListenerPolicy.forSubmission(),
                ListenerPolicy.forSubmissions(), new ListenerPolicy("mx-auth", true, false, true, false, false, true));
        String[][] recipients = {
            {"user@relay.test", "local"},
            {"user@RELAY.TEST", "local"},
            {"user@foreign.test", "foreign"},
            {"user@sub.relay.test", "foreign"},
            {"@relay.test:user@foreign.test", "foreign"},
            {"@foreign.test:user@relay.test", "local"},
            // Sender-specified routing through a relay domain is relaying (Postfix reject_unauth_destination).
            {"user%foreign.test@relay.test", "routed"},
            {"user!foreign.test@relay.test", "routed"},
            {"\"user@foreign.test\"@relay.test", "routed"},
            {"user@[192.0.2.1]", "foreign"},
        };
        for (ListenerPolicy l : listeners) {
            for (String client : List.of("10.1.2.3", "192.0.2.50")) {
                for (boolean auth : List.of(false, true)) {
                    if (auth && !l.authOffered()) {
                        continue;
                    }
                    for (String[] r : recipients) {
                        cells.add(Arguments.of(l, client, auth, r[0], r[1]));
                    }
                }
            }
        }
        return cells.stream();
    }

    @ParameterizedTest(name = "{0} client={1} auth={2} rcpt={3}")
    @MethodSource("cells")
    void onlyAllowedCellsRelay(ListenerPolicy listener, String client, boolean auth, String rcpt, String kind) throws Exception {
        SessionSettings settings = new SessionSettings("relay.test", listener, 1000, 100, 50, 50, BareLineFeeds.REJECT, POLICY);
        SmtpSession s = new SmtpSession(settings, InetAddress.getByName(client), CLOCK);
        if (listener.implicitTls()) {
            s.tlsEstablished("TLSv1.3");
        } else if (listener.startTlsOffered()) {
            s.command("EHLO c.test");
            s.command("STARTTLS");
            s.tlsEstablished("TLSv1.3");
        }
        s.command("EHLO c.test");
        if (auth) {
            s.command("AUTH PLAIN " + java.util.Base64.getEncoder().encodeToString("\0alice\0pw".getBytes()));
            s.authenticated(AuthOutcome.ACCEPTED);
        }
        String mail = reply(s.command("MAIL FROM:<sender@c.test>"));
        if (listener.authRequired() && !auth) {
            assertThat(mail).startsWith("530 5.7.0");
            return;
        }
        assertThat(mail).startsWith("250");
        boolean trusted = client.startsWith("10.");
        boolean allowed = auth || trusted || kind.equals("local");
        String answer = reply(s.command("RCPT TO:<" + rcpt + ">"));
        if (allowed) {
            assertThat(answer).startsWith("250 2.1.5");
        } else {
            assertThat(answer).startsWith("554 5.7.1");
        }
    }
}
