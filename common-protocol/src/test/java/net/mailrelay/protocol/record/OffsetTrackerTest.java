package net.mailrelay.protocol.record;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

class OffsetTrackerTest {

    final String tp = "t-0";
    final OffsetTracker<String> tracker = new OffsetTracker<>();

    @Test
    void commitsOnlyPastTheLongestFinishedPrefix() {
        long a = tracker.started(tp, 10);
        long b = tracker.started(tp, 11);
        long c = tracker.started(tp, 12);
        tracker.finished(tp, 11, b);
        tracker.finished(tp, 12, c);
        assertThat(tracker.committable()).isEmpty();
        assertThat(tracker.pending()).isEqualTo(1);
        tracker.finished(tp, 10, a);
        var offsets = tracker.committable();
        assertThat(offsets).containsEntry(tp, 13L);
        tracker.committed(offsets);
        assertThat(tracker.committable()).isEmpty();
        assertThat(tracker.pending()).isZero();
    }

    /**
     * Issue 15, defect 1: the middle record fails while the first is still in flight. The old tracker
     * rewound the whole partition to a new epoch, so the first record's completion no longer counted and
     * the partition never committed again. A failure now leaves every other record alone: the failed one
     * stays unfinished until it is done again.
     */
    @Test
    void aFailedRecordHoldsBackOnlyWhatComesAfterIt() {
        long first = tracker.started(tp, 0);
        long middle = tracker.started(tp, 1);
        long last = tracker.started(tp, 2);
        // The middle one's outcome could not be written: it is not finished, and it is tried again in place.
        assertThat(tracker.current(tp, 1, middle)).isTrue();
        tracker.finished(tp, 2, last);
        assertThat(tracker.finished(tp, 0, first)).as("the record in flight below the failure still counts").isTrue();
        assertThat(tracker.committable()).containsEntry(tp, 1L);
        assertThat(tracker.pending()).isEqualTo(1);
        assertThat(tracker.finished(tp, 1, middle)).as("done again, with the same token").isTrue();
        assertThat(tracker.committable()).containsEntry(tp, 3L);
        assertThat(tracker.pending()).isZero();
        assertThat(tracker.busy(tp)).isFalse();
    }

    @Test
    void forgetsRevokedPartitions() {
        tracker.started(tp, 1);
        tracker.forget(tp);
        assertThat(tracker.pending()).isZero();
        assertThat(tracker.committable()).isEmpty();
    }

    /**
     * Issue 15, defect 2: a completion, failed or not, from before a revocation must not count for the
     * same partition assigned back and its record read again: a late failure must not make the consumer
     * seek below what another consumer committed meanwhile.
     */
    @Test
    void aCompletionFromBeforeARevocationIsStaleWhenThePartitionComesBack() {
        long before = tracker.started(tp, 7);
        tracker.forget(tp); // revoked during a rebalance, the delivery still running
        long after = tracker.started(tp, 7); // assigned back, read again from the committed offset
        assertThat(tracker.current(tp, 7, before)).as("a late failure is stale").isFalse();
        assertThat(tracker.finished(tp, 7, before)).isFalse();
        assertThat(tracker.committable()).isEmpty();
        assertThat(tracker.pending()).isEqualTo(1);
        assertThat(tracker.finished(tp, 7, after)).isTrue();
        assertThat(tracker.committable()).containsEntry(tp, 8L);
    }

    /** A failed commit (the coordinator moved with a broker) is offered again, even if nothing else finishes. */
    @Test
    void offersAnOffsetAgainUntilTheBrokerAcknowledgesIt() {
        long t = tracker.started(tp, 20);
        tracker.finished(tp, 20, t);
        assertThat(tracker.committable()).containsEntry(tp, 21L);
        // the asynchronous commit failed: no acknowledgement
        assertThat(tracker.committable()).as("offered again").containsEntry(tp, 21L);
        tracker.committed(Map.of(tp, 21L));
        assertThat(tracker.committable()).isEmpty();
    }

    @Test
    void aFinishedOffsetCountsOnce() {
        long t = tracker.started(tp, 3);
        assertThat(tracker.finished(tp, 3, t)).isTrue();
        assertThat(tracker.finished(tp, 3, t)).isFalse();
        assertThat(tracker.pending()).isZero();
    }
}
