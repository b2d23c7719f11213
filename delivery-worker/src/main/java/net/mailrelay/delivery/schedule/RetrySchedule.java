package net.mailrelay.delivery.schedule;

import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.random.RandomGenerator;

/**
 * When to try a deferred message again, and when to give up (Postfix's qmgr backoff): the first retry
 * after {@code minBackoff}, each later one after twice the previous delay, capped at {@code maxBackoff},
 * with ±10% jitter so that mail deferred together does not come back together. A message older than
 * {@code maxLifetime} ({@code maximal_queue_lifetime}, 5 days) is returned to its sender.
 *
 * <p>Kafka has no per-record delay, so a retry goes to the longest tier topic not longer than its
 * delay; the tier consumer holds each record until its not-before time.
 */
public record RetrySchedule(List<Duration> tiers, Duration minBackoff, Duration maxBackoff, Duration maxLifetime) {

    /** Postfix defaults: minimal_backoff_time 300s, maximal_backoff_time 4000s, maximal_queue_lifetime 5d. */
    public static final RetrySchedule POSTFIX_LIKE = new RetrySchedule(
            List.of(Duration.ofMinutes(1), Duration.ofMinutes(5), Duration.ofMinutes(15), Duration.ofMinutes(30),
                    Duration.ofHours(1)),
            Duration.ofMinutes(5), Duration.ofSeconds(4000), Duration.ofDays(5));

    public RetrySchedule {
        tiers = tiers.stream().sorted(Comparator.naturalOrder()).distinct().toList();
        if (tiers.isEmpty()) {
            throw new IllegalArgumentException("at least one retry tier is needed");
        }
        Objects.requireNonNull(minBackoff, "minBackoff");
        Objects.requireNonNull(maxBackoff, "maxBackoff");
        Objects.requireNonNull(maxLifetime, "maxLifetime");
        if (minBackoff.isNegative() || minBackoff.isZero() || maxBackoff.compareTo(minBackoff) < 0) {
            throw new IllegalArgumentException("need 0 < minBackoff <= maxBackoff, not " + minBackoff + " and " + maxBackoff);
        }
    }

    /** What to do after a failed attempt. */
    public sealed interface Decision {
        record Retry(Duration tier, long notBeforeMillis) implements Decision {
        }

        /** Older than the lifetime: report it to the sender with 4.4.7. */
        record Expired() implements Decision {
        }
    }

    /**
     * @param attemptsMade attempts so far, including the one that just failed (1 after the first)
     */
    public Decision next(int attemptsMade, long arrivedAtMillis, long nowMillis, RandomGenerator random) {
        if (nowMillis - arrivedAtMillis >= maxLifetime.toMillis()) {
            return new Decision.Expired();
        }
        long delay = minBackoff.toMillis();
        for (int i = 1; i < attemptsMade && delay < maxBackoff.toMillis(); i++) {
            delay *= 2;
        }
        delay = Math.min(delay, maxBackoff.toMillis());
        long jitter = delay / 10;
        if (jitter > 0) {
            delay += random.nextLong(-jitter, jitter + 1);
        }
        return new Decision.Retry(tierFor(Duration.ofMillis(delay)), nowMillis + delay);
    }

    /** The longest tier not longer than the delay, or the shortest tier. */
    Duration tierFor(Duration delay) {
        return fitting(tiers, delay);
    }

    /** Of {@code tiers} (sorted, shortest first), the longest not longer than {@code wait}, or the shortest. */
    public static Duration fitting(List<Duration> tiers, Duration wait) {
        Duration chosen = tiers.get(0);
        for (Duration t : tiers) {
            if (t.compareTo(wait) <= 0) {
                chosen = t;
            }
        }
        return chosen;
    }
}
