package net.mailrelay.delivery.queue;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.time.Duration;
import java.util.OptionalLong;
import net.mailrelay.delivery.ledger.RecipientClaims;
import net.mailrelay.delivery.ledger.RecipientLedger;
import net.mailrelay.protocol.envelope.QueueId;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

/** The time each commit carries, the rebuild's horizon (Commits' class comment). */
class CommitsTest {

    static final TopicPartition TP = new TopicPartition("mail.outbound", 0);
    static final long NOW = 1_800_000_000_000L;
    static final RecordJob.Context CONTEXT = new RecordJob.Context(null, null, null, Clock.systemUTC(), Duration.ZERO);

    static final RecipientLedger LEDGER = new RecipientLedger() {
        @Override
        public boolean isDelivered(QueueId q, String r) {
            return false;
        }

        @Override
        public void markDelivered(QueueId q, String r) {
        }

        @Override
        public String claim(QueueId q, String r) {
            return "t";
        }

        @Override
        public void release(QueueId q, String r, String token) {
        }
    };

    static void deliver(Commits c, long offset, long readAt) {
        long token = c.started(TP, offset, readAt);
        c.finished(RecordJob.delivery(TP, new ConsumerRecord<>(TP.topic(), TP.partition(), offset, "q" + offset, new byte[0]), token,
                CONTEXT));
    }

    /**
     * Issue 29: a partition never committed by its previous owner, which may have delivered records below
     * the end before it died. Before, this worker's commits carried its own time at once, a horizon too
     * late for a rebuild; they carry none until past that end, and the rebuild falls back on when the
     * records were written.
     */
    @Test
    void withoutACommittedOffsetTheCommitsCarryNoTimeUntilPastTheEnd() {
        Commits c = new Commits(new RecipientClaims(LEDGER, Duration.ofMinutes(1)));
        c.assigned(TP, null, OptionalLong.empty(), 2, NOW);
        deliver(c, 0, NOW + 10);
        assertThat(c.toCommit(NOW + 20).get(TP).metadata()).as("below the end").isEmpty();
        deliver(c, 1, NOW + 30);
        assertThat(c.toCommit(NOW + 40).get(TP).metadata()).as("past the end").isEqualTo(Commits.mark(NOW + 40));
        c.close();
    }

    @Test
    void withAPreviousOwnersTimeTheCommitsCarryTheEarlierUntilPastTheEnd() {
        Commits c = new Commits(new RecipientClaims(LEDGER, Duration.ofMinutes(1)));
        c.assigned(TP, 0L, OptionalLong.of(NOW - 5_000), 2, NOW);
        deliver(c, 0, NOW + 10);
        assertThat(c.toCommit(NOW + 20).get(TP).metadata()).isEqualTo(Commits.mark(NOW - 5_000));
        deliver(c, 1, NOW + 30);
        assertThat(c.toCommit(NOW + 40).get(TP).metadata()).isEqualTo(Commits.mark(NOW + 40));
        c.close();
    }
}
