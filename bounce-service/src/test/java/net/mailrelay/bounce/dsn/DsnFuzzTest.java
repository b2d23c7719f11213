package net.mailrelay.bounce.dsn;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import net.mailrelay.protocol.dsn.Action;
import net.mailrelay.protocol.dsn.BounceRequest;
import net.mailrelay.protocol.dsn.RecipientReport;
import net.mailrelay.protocol.envelope.DsnReturn;
import net.mailrelay.protocol.envelope.Notify;
import net.mailrelay.protocol.envelope.Recipient;

/**
 * Coverage-guided fuzz target (Jazzer) for the bounce service's reading of message input: any original
 * message (headers of any shape, no header section, binary, bare CR and LF) and any remote diagnostic
 * and MTA name become a DSN whose own header section is well-formed; the returned headers stay within
 * their size limit.
 */
class DsnFuzzTest {

    @FuzzTest
    void anyOriginalAndDiagnostic(FuzzedDataProvider data) {
        String diagnostic = data.consumeString(300);
        String remoteMta = data.consumeString(60);
        DsnReturn ret = data.pickValue(DsnReturn.values());
        boolean utf8 = data.consumeBoolean();
        int limit = data.consumeInt(0, 4096);
        byte[] original = data.consumeRemainingAsBytes();

        byte[] headers = OriginalHeaders.extract(original, 0, original.length, limit);
        assertThat(headers.length).isLessThanOrEqualTo(limit);

        RecipientReport report = new RecipientReport(new Recipient("rcpt@example.net", null, Set.of(Notify.FAILURE)),
                Action.FAILED, "5.1.1", remoteMta, diagnostic, DsnFixtures.LAST_ATTEMPT);
        BounceRequest request = new BounceRequest(DsnFixtures.envelope("sender@example.org", ret, utf8),
                List.of(report), DsnFixtures.HOST);
        Optional<Dsn> dsn = DsnFixtures.composer().compose(request, original, 0, original.length, DsnFixtures.DSN_ID);
        assertThat(dsn).isPresent();
        String text = new String(dsn.get().message(), StandardCharsets.ISO_8859_1);
        int end = text.indexOf("\r\n\r\n");
        assertThat(end).as("header section ends").isPositive();
        for (String line : text.substring(0, end).split("\r\n")) {
            assertThat(line).doesNotContain("\r", "\n").hasSizeLessThanOrEqualTo(998);
        }
    }
}
