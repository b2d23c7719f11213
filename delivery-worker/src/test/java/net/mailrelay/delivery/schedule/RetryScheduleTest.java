package net.mailrelay.delivery.schedule;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class RetryScheduleTest {

    static final long ARRIVED = 1_800_000_000_000L;
    final SplittableRandom random = new SplittableRandom(42);

    @Test
    void followsPostfixBackoffWithinJitter() {
        RetrySchedule s = RetrySchedule.POSTFIX_LIKE;
        long[] expectedSeconds = {300, 600, 1200, 2400, 4000, 4000, 4000};
        for (int attempt = 1; attempt <= expectedSeconds.length; attempt++) {
            long now = ARRIVED + attempt * 1000L;
            var d = (RetrySchedule.Decision.Retry) s.next(attempt, ARRIVED, now, random);
            long delay = d.notBeforeMillis() - now;
            long want = expectedSeconds[attempt - 1] * 1000;
            assertThat(delay).as("attempt %d", attempt).isBetween(want - want / 10, want + want / 10);
            assertThat(d.tier()).isLessThanOrEqualTo(Duration.ofMillis(delay));
        }
    }

    @Test
    void picksTheLongestTierNotLongerThanTheDelay() {
        RetrySchedule s = RetrySchedule.POSTFIX_LIKE;
        assertThat(s.tierFor(Duration.ofSeconds(30))).isEqualTo(Duration.ofMinutes(1));
        assertThat(s.tierFor(Duration.ofMinutes(5))).isEqualTo(Duration.ofMinutes(5));
        assertThat(s.tierFor(Duration.ofMinutes(20))).isEqualTo(Duration.ofMinutes(15));
        assertThat(s.tierFor(Duration.ofSeconds(4000))).isEqualTo(Duration.ofHours(1));
    }

    @Test
    void expiresAfterTheLifetime() {
        RetrySchedule s = RetrySchedule.POSTFIX_LIKE;
        assertThat(s.next(30, ARRIVED, ARRIVED + Duration.ofDays(5).toMillis() - 1, random))
                .isInstanceOf(RetrySchedule.Decision.Retry.class);
        assertThat(s.next(30, ARRIVED, ARRIVED + Duration.ofDays(5).toMillis(), random))
                .isInstanceOf(RetrySchedule.Decision.Expired.class);
    }
}
