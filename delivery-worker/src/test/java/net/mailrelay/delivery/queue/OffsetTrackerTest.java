package net.mailrelay.delivery.queue;

import static org.assertj.core.api.Assertions.assertThat;

import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

class OffsetTrackerTest {

    final TopicPartition tp = new TopicPartition("t", 0);
    final OffsetTracker tracker = new OffsetTracker();

    @Test
    void commitsOnlyPastTheLongestFinishedPrefix() {
        long e = tracker.started(tp, 10);
        tracker.started(tp, 11);
        tracker.started(tp, 12);
        tracker.finished(tp, 11, e);
        tracker.finished(tp, 12, e);
        assertThat(tracker.committable()).isEmpty();
        assertThat(tracker.inFlight()).isEqualTo(1);
        tracker.finished(tp, 10, e);
        var offsets = tracker.committable();
        assertThat(offsets.get(tp).offset()).isEqualTo(13);
        tracker.committed(offsets);
        assertThat(tracker.committable()).isEmpty();
        assertThat(tracker.inFlight()).isZero();
    }

    @Test
    void ignoresCompletionsFromBeforeARewind() {
        long e = tracker.started(tp, 5);
        tracker.started(tp, 6);
        tracker.rewind(tp, 5);
        assertThat(tracker.inFlight()).isZero();
        tracker.finished(tp, 5, e);
        assertThat(tracker.committable()).isEmpty();
        long e2 = tracker.started(tp, 5);
        tracker.finished(tp, 5, e2);
        assertThat(tracker.committable().get(tp).offset()).isEqualTo(6);
    }

    @Test
    void forgetsRevokedPartitions() {
        tracker.started(tp, 1);
        tracker.forget(tp);
        assertThat(tracker.inFlight()).isZero();
        assertThat(tracker.committable()).isEmpty();
    }

    @Test
    void ignoresCompletionsFromBeforeARevocationWhenThePartitionComesBack() {
        long before = tracker.started(tp, 7);
        tracker.forget(tp); // revoked during a rebalance, the delivery still running
        long after = tracker.started(tp, 7); // assigned back, read again from the committed offset
        assertThat(tracker.finished(tp, 7, before)).isFalse();
        assertThat(tracker.committable()).isEmpty();
        assertThat(tracker.inFlight()).isEqualTo(1);
        assertThat(tracker.finished(tp, 7, after)).isTrue();
        assertThat(tracker.committable().get(tp).offset()).isEqualTo(8);
    }

    /** A failed commit (the coordinator moved with a broker) is offered again, even if nothing else finishes. */
    @Test
    void offersAnOffsetAgainUntilKafkaAcknowledgesIt() {
        long e = tracker.started(tp, 20);
        tracker.finished(tp, 20, e);
        assertThat(tracker.committable().get(tp).offset()).isEqualTo(21);
        // commitAsync failed: no acknowledgement
        assertThat(tracker.committable().get(tp).offset()).as("offered again").isEqualTo(21);
        tracker.committed(tracker.committable());
        assertThat(tracker.committable()).isEmpty();
    }
}
