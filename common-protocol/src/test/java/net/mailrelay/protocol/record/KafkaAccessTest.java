package net.mailrelay.protocol.record;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** Every producer and consumer of the relay starts from one set of settings, with the access properties over them. */
class KafkaAccessTest {

    private static final KafkaAccess SECURED = new KafkaAccess("broker:9093",
            Map.of("security.protocol", "SASL_SSL", "linger.ms", "7"));

    @Test
    void aProducerIsDurableTakesTheLargestRecordAndKeepsItsOwnSettings() {
        Map<String, Object> c = SECURED.producer("edge-1", 20 << 20, Map.of("transactional.id", "t", "linger.ms", 0));
        assertThat(c).containsEntry("acks", "all").containsEntry("enable.idempotence", true)
                .containsEntry("max.request.size", 20 << 20).containsEntry("buffer.memory", 64L << 20)
                .containsEntry("client.id", "edge-1").containsEntry("transactional.id", "t")
                .containsEntry("security.protocol", "SASL_SSL").containsEntry("bootstrap.servers", "broker:9093");
        assertThat(c).as("an operator's pass-through property goes over the relay's own").containsEntry("linger.ms", "7");
        assertThat(SECURED.producer(null, 100 << 20, Map.of())).containsEntry("buffer.memory", 200L << 20)
                .doesNotContainKey("client.id");
    }

    @Test
    void aConsumerCommitsByHandReadsCommittedRecordsAndFetchesTheLargestRecord() {
        Map<String, Object> c = SECURED.consumer("worker-1", 64 << 20, Map.of("group.id", "g", "max.poll.records", 20));
        assertThat(c).containsEntry("enable.auto.commit", false).containsEntry("isolation.level", "read_committed")
                .containsEntry("auto.offset.reset", "earliest").containsEntry("max.partition.fetch.bytes", 64 << 20)
                .containsEntry("fetch.max.bytes", 64 << 20).containsEntry("group.id", "g").containsEntry("max.poll.records", 20)
                .containsEntry("security.protocol", "SASL_SSL");
        assertThat(SECURED.consumer("c", 1000, Map.of())).containsEntry("max.partition.fetch.bytes", 1 << 20)
                .containsEntry("fetch.max.bytes", 50 << 20);
    }

    @Test
    void whatTheGuaranteesRestOnCannotBePassedThrough() {
        assertThatThrownBy(() -> new KafkaAccess("broker:9093", Map.of("isolation.level", "read_uncommitted")))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
