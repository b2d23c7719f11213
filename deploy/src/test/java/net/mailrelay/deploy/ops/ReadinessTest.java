package net.mailrelay.deploy.ops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

class ReadinessTest {

    @Test
    void aPartAddedAfterTheStartHoldsReadinessUntilItIsReadyAndIsSeenWithinAQuarterSecond() {
        AtomicBoolean kafka = new AtomicBoolean(true);
        AtomicBoolean transactions = new AtomicBoolean(false);
        // An interval far longer than the test: only the quick checks while not ready can see the change.
        try (Readiness r = new Readiness(Map.of("kafka", kafka::get), Duration.ofMinutes(10))) {
            assertThat(r.ready()).isTrue();
            r.add("kafka-transactions", transactions::get);
            assertThat(r.ready()).as("ready before the added part is").isFalse();
            assertThat(r.cached()).containsKeys("kafka", "kafka-transactions");
            transactions.set(true);
            await().atMost(Duration.ofSeconds(5)).until(r::ready);
            assertThat(r.cached().get("kafka-transactions").getAsBoolean()).isTrue();
            // Once ready, the checks run every interval again: a part going down shows then, not at once.
            kafka.set(false);
            await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(2)).until(r::ready);
        }
    }
}
