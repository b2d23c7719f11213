package net.mailrelay.bounce;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import net.mailrelay.protocol.record.KafkaAccess;
import net.mailrelay.protocol.record.Topics;
import org.junit.jupiter.api.Test;

class BounceServiceConfigTest {

    @Test
    void returnsUpToPostfixsBounceSizeLimitUnlessToldOtherwise() {
        BounceService.Config config = new BounceService.Config("relay.example.org", KafkaAccess.plaintext("localhost:9092"), Topics.DEFAULT, 1 << 20);
        assertThat(config.returnSizeLimit()).isEqualTo(BounceService.Config.DEFAULT_RETURN_SIZE_LIMIT).isEqualTo(50_000);
        assertThat(new BounceService.Config("relay.example.org", KafkaAccess.plaintext("localhost:9092"), Topics.DEFAULT, 1 << 20, 10_000)
                .returnSizeLimit()).isEqualTo(10_000);
    }

    @Test
    void refusesAReturnSizeLimitOfNothing() {
        assertThatThrownBy(() -> new BounceService.Config("relay.example.org", KafkaAccess.plaintext("localhost:9092"), Topics.DEFAULT, 1 << 20, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("returnSizeLimit must be > 0 bytes, not 0");
    }
}
