package net.mailrelay.delivery.smtp;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class TimeoutsTest {

    @Test
    void aSessionAtEveryLimitTakesThirtyFiveAndAHalfMinutes() {
        assertThat(Timeouts.RFC_5321.sessionLimit()).isEqualTo(Duration.ofSeconds(2130));
    }

    /**
     * Issue 15, defect 6: the claim lease was a fixed 30 minutes, shorter than one session may take,
     * so a slow delivery could lose its claim to a second one. It is derived from the timeouts now.
     */
    @Test
    void theClaimLeaseOutlastsTheLongestSessionWhateverTheTimeouts() {
        Timeouts slow = new Timeouts(Duration.ofMinutes(2), Duration.ofMinutes(10), Duration.ofMinutes(10),
                Duration.ofMinutes(5), Duration.ofMinutes(10), Duration.ofMinutes(30));
        for (Timeouts t : new Timeouts[] {Timeouts.RFC_5321, slow}) {
            assertThat(t.claimLease()).isGreaterThanOrEqualTo(t.sessionLimit().multipliedBy(2));
        }
        assertThat(Timeouts.RFC_5321.claimLease()).isEqualTo(Duration.ofMinutes(71));
    }
}
