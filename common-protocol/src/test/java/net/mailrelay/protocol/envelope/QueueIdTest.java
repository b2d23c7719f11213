package net.mailrelay.protocol.envelope;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class QueueIdTest {

    @Test
    void idsAreUniqueAndSortByTime() {
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 10_000; i++) {
            assertThat(seen.add(QueueId.next(1_700_000_000_000L).value())).isTrue();
        }
        assertThat(QueueId.next(1_700_000_000_000L).value())
                .isLessThan(QueueId.next(1_700_000_000_001L).value())
                .hasSize(20)
                .matches("[0-9A-Z]+");
    }

    @Test
    void theFirstTenCharactersGiveTheTimeTheIdWasMade() {
        assertThat(QueueId.next(1_795_888_652_943L).epochMillis()).isEqualTo(1_795_888_652_943L);
        assertThat(QueueId.of(QueueId.next(1_700_000_000_000L).value().toLowerCase()).epochMillis()).isEqualTo(1_700_000_000_000L);
        assertThat(QueueId.of("Q1").epochMillis()).isEqualTo(-1);
        assertThat(QueueId.of("0123456789UUUUUUUUUU").epochMillis()).isNotNegative();
        assertThat(QueueId.of("U123456789ABCDEFGHJK").epochMillis()).isEqualTo(-1);
    }
}
