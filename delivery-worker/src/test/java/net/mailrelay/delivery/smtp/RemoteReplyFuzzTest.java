package net.mailrelay.delivery.smtp;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.smtp.SmtpResponse;
import io.netty.handler.codec.smtp.SmtpResponseDecoder;
import java.util.ArrayList;
import java.util.List;
import net.mailrelay.protocol.envelope.BodyType;

/**
 * Coverage-guided fuzz target (Jazzer) for what a remote SMTP server can send the delivery client: any
 * bytes, split into replies by the same Netty decoder the client uses (multi-line, garbage, overlong),
 * drive the client's session through greeting, EHLO, STARTTLS, AUTH and transactions. The session
 * never throws, never sends a command with a line break in it, and always ends in a report.
 */
class RemoteReplyFuzzTest {

    @FuzzTest
    void remoteServer(FuzzedDataProvider data) {
        TlsPolicy tls = data.pickValue(TlsPolicy.values());
        Credentials creds = data.consumeBoolean() ? new Credentials("user", "secret") : null;
        ClientSession s = new ClientSession(new ConnectionSpec("relay.test", tls, creds), "mx.test", "192.0.2.1:25");
        EmbeddedChannel wire = new EmbeddedChannel(new SmtpResponseDecoder(8192));
        List<String> recipients = new ArrayList<>();
        int n = data.consumeInt(1, 4);
        for (int i = 0; i < n; i++) {
            recipients.add("r" + i + "@far.test");
        }
        ClientSession.Transaction tx = new ClientSession.Transaction("a@b.test", recipients,
                data.pickValue(BodyType.values()), data.consumeBoolean(), data.consumeLong(0, 1 << 24));
        for (int round = 0; round < 30 && data.remainingBytes() > 0; round++) {
            byte[] bytes = data.consumeBytes(data.consumeInt(1, 600));
            List<SmtpResponse> replies = new ArrayList<>();
            try {
                wire.writeInbound(Unpooled.wrappedBuffer(bytes));
                SmtpResponse r;
                while ((r = wire.readInbound()) != null) {
                    replies.add(r);
                }
            } catch (DecoderException e) {
                // The connection layer closes the connection on an undecodable reply.
                assertThat(s.onConnectionLost("bad reply: " + e.getMessage()))
                        .isInstanceOf(ClientSession.Action.Finish.class);
                return;
            }
            for (SmtpResponse r : replies) {
                List<String> lines = r.details().stream().map(CharSequence::toString).toList();
                ClientSession.Action a = s.onReply(new RemoteReply(r.code(), lines.isEmpty() ? List.of("") : lines));
                for (int hops = 0; hops < 4 && a != null; hops++) {
                    if (a instanceof ClientSession.Action.Send send) {
                        send.commands().forEach(c -> assertThat(c).doesNotContain("\r", "\n"));
                        a = null;
                    } else if (a instanceof ClientSession.Action.StartTls) {
                        a = data.consumeBoolean() ? s.onTlsEstablished("TLSv1.3") : s.onTlsFailed("handshake failed");
                    } else if (a instanceof ClientSession.Action.Ready) {
                        a = s.begin(tx);
                    } else if (a instanceof ClientSession.Action.TransactionDone done) {
                        assertThat(done.report()).isNotNull();
                        a = data.consumeBoolean() ? s.begin(tx) : null;
                    } else if (a instanceof ClientSession.Action.Finish finish) {
                        assertThat(finish.report()).isNotNull();
                        return; // the client closes the connection
                    } else {
                        a = null;
                    }
                }
            }
        }
        assertThat(s.onConnectionLost("connection closed")).isNotNull();
    }

    /** EHLO keyword lines of any shape. */
    @FuzzTest
    void ehloExtensions(FuzzedDataProvider data) {
        List<String> lines = new ArrayList<>();
        int n = data.consumeInt(0, 12);
        for (int i = 0; i < n; i++) {
            lines.add(data.consumeString(100));
        }
        assertThat(Extensions.parse(lines)).isNotNull();
    }
}
