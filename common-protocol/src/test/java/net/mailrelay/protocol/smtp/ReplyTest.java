package net.mailrelay.protocol.smtp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class ReplyTest {

    @Test
    void refusesAPermanentCodeWithATransientStatus() {
        assertThatThrownBy(() -> new Reply(ReplyCode.MAILBOX_UNAVAILABLE,
                EnhancedStatus.transientFailure(StatusDetail.BAD_MAILBOX), "no"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("550").hasMessageContaining("4.1.1");
    }

    @Test
    void refusesATransientCodeWithASuccessStatus() {
        assertThatThrownBy(() -> new Reply(ReplyCode.LOCAL_ERROR_IN_PROCESSING,
                EnhancedStatus.success(StatusDetail.OTHER), "no"))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void refusesLineBreaksInText() {
        assertThatThrownBy(() -> new Reply(ReplyCode.OK, null, "a\r\n250 b"))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void writesMultiLineRepliesWithDashes() {
        Reply r = new Reply(ReplyCode.OK, null, List.of("relay.example", "PIPELINING", "SIZE 100"));
        assertThat(r.toWire()).isEqualTo("250-relay.example\r\n250-PIPELINING\r\n250 SIZE 100\r\n");
    }

    @Test
    void putsTheEnhancedStatusOnEveryLine() {
        Reply r = new Reply(ReplyCode.MAILBOX_UNAVAILABLE, EnhancedStatus.parse("5.1.1"), List.of("a", "b"));
        assertThat(r.toWire()).isEqualTo("550-5.1.1 a\r\n550 5.1.1 b\r\n");
        assertThat(r).hasToString("550 5.1.1 a b");
    }

    @Test
    void parsesAndPrintsEnhancedStatus() {
        EnhancedStatus s = EnhancedStatus.parse("4.4.7");
        assertThat(s.statusClass()).isEqualTo(StatusClass.PERSISTENT_TRANSIENT_FAILURE);
        assertThat(s.detail()).isEqualTo(StatusDetail.DELIVERY_TIME_EXPIRED);
        assertThat(s).hasToString("4.4.7");
        assertThat(EnhancedStatus.leadingIn("5.7.1 Relay access denied")).isEqualTo(EnhancedStatus.parse("5.7.1"));
        assertThat(EnhancedStatus.leadingIn("Relay access denied")).isNull();
        assertThatThrownBy(() -> EnhancedStatus.parse("3.1.1")).isInstanceOf(IllegalArgumentException.class);
    }
}
