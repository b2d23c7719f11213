package net.mailrelay.protocol.smtp;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ReplyTextTest {

    @Test
    void aReplyWithinTheBudgetIsKeptWhole() {
        String r = "550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown in virtual mailbox table";
        assertThat(ReplyText.bounded(r)).isSameAs(r);
        assertThat(ReplyText.bounded(null)).isNull();
        String exact = "x".repeat(ReplyText.BUDGET);
        assertThat(ReplyText.bounded(exact)).isEqualTo(exact);
    }

    @Test
    void aLongerReplyIsCutToTheBudgetWithANote() {
        String r = "550 5.7.1 " + "y".repeat(56 * 1024);
        String kept = ReplyText.bounded(r);
        assertThat(kept.getBytes(StandardCharsets.UTF_8).length).isLessThanOrEqualTo(ReplyText.BUDGET);
        assertThat(kept).startsWith("550 5.7.1 yyy").endsWith(" ...(" + r.length() + " bytes, cut)");
    }

    @Test
    void aCutNeverSplitsACharacter() {
        String r = "550 " + "\u00e9\ud83d\ude00".repeat(2000);
        for (int budget : new int[] {100, 101, 102, 103, 104, 105}) {
            String kept = ReplyText.bounded(r, budget);
            assertThat(kept.getBytes(StandardCharsets.UTF_8).length).as("budget %d", budget).isLessThanOrEqualTo(budget);
            assertThat(new String(kept.getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8)).isEqualTo(kept);
            assertThat(kept).doesNotContain("\ufffd");
        }
    }
}
