package net.mailrelay.bounce.queue;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

class InFlightTest {

    private static final TopicPartition P0 = new TopicPartition("mail.bounce", 0);
    private static final TopicPartition P1 = new TopicPartition("mail.bounce", 1);

    private final InFlight inFlight = new InFlight();

    @Test
    void commitsOnlyPastRecordsWhoseEveryPredecessorIsAcknowledged() {
        CompletableFuture<Void> first = new CompletableFuture<>();
        CompletableFuture<Void> second = new CompletableFuture<>();
        inFlight.add(P0, 10, first);
        inFlight.add(P0, 11, second);
        inFlight.done(P0, 12);
        inFlight.done(P1, 3);

        second.complete(null);
        assertThat(inFlight.settle().commits()).isEqualTo(Map.of(P1, new OffsetAndMetadata(4)));

        first.complete(null);
        assertThat(inFlight.settle().commits()).isEqualTo(Map.of(P0, new OffsetAndMetadata(13)));
        assertThat(inFlight.isEmpty()).isTrue();
    }

    @Test
    void aFailedProduceStopsItsPartitionUntilItIsReadAgain() {
        CompletableFuture<Void> failed = new CompletableFuture<>();
        CompletableFuture<Void> later = new CompletableFuture<>();
        inFlight.done(P0, 4);
        inFlight.add(P0, 5, failed);
        inFlight.add(P0, 6, later);

        failed.completeExceptionally(new IllegalStateException("broker gone"));
        InFlight.Settled settled = inFlight.settle();
        assertThat(settled.commits()).isEqualTo(Map.of(P0, new OffsetAndMetadata(5)));
        assertThat(settled.failedAt()).isEqualTo(Map.of(P0, 5L));
        assertThat(inFlight.quiet(P0)).isFalse();

        later.complete(null);
        assertThat(inFlight.settle().commits()).isEmpty();
        assertThat(inFlight.quiet(P0)).isTrue();
        inFlight.forget(List.of(P0));
        assertThat(inFlight.isEmpty()).isTrue();
    }
}
