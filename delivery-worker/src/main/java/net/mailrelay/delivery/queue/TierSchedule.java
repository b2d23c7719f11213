package net.mailrelay.delivery.queue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;
import net.mailrelay.delivery.schedule.RetrySchedule;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.record.RecordCodec;
import net.mailrelay.protocol.record.RecordHeaders;
import net.mailrelay.protocol.record.Topics;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * When a retry-tier record is due. Kafka has no per-record delay, so a tier partition is read in order
 * and paused while its head waits; a record waits behind the one before it.
 *
 * <p>A record put on tier D with a longer wait (the backoff picks the longest tier not longer than the
 * wait, so a 4,400 s wait goes on the 1 h tier) would hold up the records behind it for the difference,
 * which is how retries came 4 to 13 minutes late. So a tier holds each record only for the tier's own
 * delay, counted from when it was put there (its timestamp), or until it is due if that is sooner:
 * those times grow with the offsets, so no record holds up another for longer than its own tier's
 * delay. When that is over and the record is still not due, it is moved down to the tier that fits what
 * is left of its wait, or, when that is less than half the shortest tier, delivered now. So a retry comes
 * at most half the shortest tier early or late (30 s with the defaults), plus the consumer's lag; the
 * price is that a record is written again on its way down, two or three times for the longer waits
 * (TierScheduleTest measures both).
 *
 * <p>An operator's retry-now request ({@link RetryRequests}) reads each tier partition through to its
 * end at the time of the request: records for the destination are delivered at once, the others moved
 * on as if their tier's wait were over.
 */
final class TierSchedule {

    private static final Logger LOG = LoggerFactory.getLogger(TierSchedule.class);

    /** What to do with a tier record now. */
    sealed interface Due {
        /** Deliver it; {@code early} when it is not quite due yet, or a retry-now request brought it forward. */
        record Deliver(boolean early) implements Due {
        }

        /** Not yet: read it again at {@code untilMillis}, holding the partition until then. */
        record Hold(long untilMillis) implements Due {
        }

        /** Put it on {@code tier}, whose delay fits what is left of its wait. */
        record Move(Duration tier, long notBeforeMillis) implements Due {
        }
    }

    private final Topics topics;
    private final List<Duration> tiers;
    private final Map<String, Duration> tierByTopic = new HashMap<>();
    private final long toleranceMillis;
    private final BiConsumer<String, Duration> lateness;
    private final RetryRequests requests;
    private final Map<String, Long> requestsSeen = new HashMap<>();
    /** Tier partitions being flushed: records before this offset are looked at now, due or not. */
    private final Map<TopicPartition, Long> flushUntil = new HashMap<>();
    private final Set<String> flushing = new HashSet<>();

    /**
     * @param lateness told, per tier label, how late each record delivered from a tier was (due time to
     *     now), for the {@code mailrelay.retry.lateness} histogram
     */
    TierSchedule(Topics topics, List<Duration> tiers, RetryRequests requests, BiConsumer<String, Duration> lateness) {
        this.topics = topics;
        this.tiers = tiers.stream().sorted(Comparator.naturalOrder()).toList();
        this.tiers.forEach(t -> tierByTopic.put(topics.retryTier(t), t));
        this.toleranceMillis = this.tiers.get(0).toMillis() / 2;
        this.requests = requests;
        this.lateness = lateness;
        this.requestsSeen.putAll(requests.current());
    }

    boolean isTier(TopicPartition tp) {
        return tierByTopic.containsKey(tp.topic());
    }

    String topic(Duration tier) {
        return topics.retryTier(tier);
    }

    /** The decision for one record read from a tier partition. */
    Due decide(TopicPartition tp, ConsumerRecord<String, byte[]> record, long now) {
        long notBefore = notBefore(record);
        Long flushEnd = flushUntil.get(tp);
        boolean flushed = flushEnd != null && record.offset() < flushEnd;
        if (flushed && record.offset() + 1 >= flushEnd) {
            flushUntil.remove(tp);
        }
        Duration tier = tierByTopic.get(tp.topic());
        Due due = flushed && now < notBefore ? (wanted(record) ? new Due.Deliver(true) : moveDown(notBefore, now))
                : due(tier, record.timestamp(), notBefore, now);
        if (due instanceof Due.Deliver && !flushed) {
            lateness.accept(Topics.label(tier), Duration.ofMillis(Math.max(0, now - notBefore)));
        }
        return due;
    }

    /** The rule, without the flush: {@code enteredAt} is when the record was put on {@code tier}. */
    Due due(Duration tier, long enteredAt, long notBefore, long now) {
        if (now >= notBefore) {
            return new Due.Deliver(false);
        }
        long released = enteredAt + tier.toMillis();
        if (now < released) {
            return new Due.Hold(Math.min(released, notBefore));
        }
        // Waiting in place for a record due soon would hold up the records behind it, and a run of such
        // waits adds up; moving it to the shortest tier could make it late by most of that tier.
        if (notBefore - now <= toleranceMillis) {
            return new Due.Deliver(true);
        }
        return moveDown(notBefore, now);
    }

    private Due moveDown(long notBefore, long now) {
        return new Due.Move(fitting(Duration.ofMillis(notBefore - now)), notBefore);
    }

    /** The longest tier not longer than the wait, or the shortest tier. */
    Duration fitting(Duration wait) {
        return RetrySchedule.fitting(tiers, wait);
    }

    /**
     * Takes in new retry-now requests; returns whether there are any, in which case the caller marks
     * each of its tier partitions for reading through ({@link #flush}).
     */
    boolean noticeRequests() {
        boolean fresh = false;
        for (Map.Entry<String, Long> r : requests.current().entrySet()) {
            Long seen = requestsSeen.get(r.getKey());
            if (seen == null || seen < r.getValue()) {
                requestsSeen.put(r.getKey(), r.getValue());
                flushing.add(r.getKey());
                fresh = true;
                LOG.info("retrying deferred mail for {} now, as requested", r.getKey());
            }
        }
        if (!fresh && flushUntil.isEmpty()) {
            flushing.clear();
        }
        return fresh;
    }

    /** Reads the partition through to {@code end} (its end offset when the request came). */
    void flush(TopicPartition tp, long end) {
        flushUntil.merge(tp, end, Math::max);
    }

    void forget(TopicPartition tp) {
        flushUntil.remove(tp);
    }

    private boolean wanted(ConsumerRecord<String, byte[]> record) {
        if (flushing.contains("*")) {
            return true;
        }
        try {
            Envelope env = RecordCodec.decode(record.value(), Envelope.class).metadata();
            return env.recipients().stream().anyMatch(r -> flushing.contains(r.domain()));
        } catch (RecordCodec.MalformedRecordException e) {
            return true; // let the delivery path log and skip it
        }
    }

    static long notBefore(ConsumerRecord<String, byte[]> record) {
        var h = record.headers().lastHeader(RecordHeaders.NOT_BEFORE);
        if (h == null) {
            return 0;
        }
        try {
            return Long.parseLong(new String(h.value(), StandardCharsets.US_ASCII));
        } catch (NumberFormatException e) {
            return 0;
        }
    }
}
