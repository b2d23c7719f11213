package net.mailrelay.delivery.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.hazelcast.core.HazelcastInstance;
import java.time.Duration;
import java.util.List;
import net.mailrelay.testing.ClusterSecret;
import org.junit.jupiter.api.Test;

/**
 * Issue 29, item 9: whether the ledger covers a partition is never guessed. When Hazelcast cannot answer,
 * the question fails and the partition waits for the answer; before, it was taken as covered, and a
 * partition assigned then was delivered from without its rebuild.
 */
class LedgerUnavailableTest {

    @Test
    void whetherAPartitionIsCoveredFailsClosedWhenHazelcastCannotSay() {
        HazelcastInstance member = TestMembers.cluster(1).get(0);
        HazelcastLedger ledger = new HazelcastLedger(member, ClusterSecret.SEAL, Duration.ofHours(1), Duration.ofMinutes(5));
        ledger.covered(List.of("mail.outbound-0"));
        assertThat(ledger.uncovered(List.of("mail.outbound-0", "mail.outbound-1"))).containsExactly("mail.outbound-1");

        member.getLifecycleService().terminate();
        assertThatThrownBy(() -> ledger.uncovered(List.of("mail.outbound-0", "mail.outbound-1")))
                .as("not an empty set, which read as covered").isInstanceOf(RuntimeException.class);
    }
}
