package net.mailrelay.delivery.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import com.hazelcast.core.HazelcastInstance;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import net.mailrelay.delivery.attempt.QueueControls;
import net.mailrelay.testing.ClusterSecret;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** Holds and orders across real Hazelcast members: seen everywhere, released with a retry, soft when gone. */
class QueueControlsClusterTest {

    @Test
    void holdsAndOrdersAreSharedReleasesAskForARetryAndALostClusterMeansGoAhead() {
        List<HazelcastInstance> members = TestMembers.cluster(2);
        try {
            // Not closed: their listeners go with the members, which this test shuts down.
            HazelcastRetryRequests retriesA = new HazelcastRetryRequests(members.get(0), Clock.systemUTC());
            HazelcastRetryRequests retriesB = new HazelcastRetryRequests(members.get(1), Clock.systemUTC());
            HazelcastQueueControls a = new HazelcastQueueControls(members.get(0), ClusterSecret.SEAL, retriesA, Duration.ofSeconds(2), Clock.systemUTC());
            HazelcastQueueControls b = new HazelcastQueueControls(members.get(1), ClusterSecret.SEAL, retriesB, Duration.ofSeconds(2), Clock.systemUTC());

            long since = a.hold("Example.NET");
            assertThat(a.hold("example.net")).as("holding twice keeps the first time").isEqualTo(since);
            a.hold("b.example");
            // A hold reaches the other member with its event; its release is seen at once.
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> b.held("example.net") && b.held("b.example"));
            assertThat(b.held("other.example")).isFalse();
            assertThat(b.holds()).containsOnlyKeys("b.example", "example.net");

            assertThat(b.release("example.net")).isTrue();
            assertThat(a.held("example.net")).as("seen at once by the other member").isFalse();
            assertThat(b.release("never-held.example")).isFalse();
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> retriesA.current().containsKey("example.net"));
            assertThat(retriesA.current()).doesNotContainKey("never-held.example");

            a.order("01M8HP0WBHRMBEG60TYC", QueueControls.Order.DELETE);
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> b.order("01M8HP0WBHRMBEG60TYC") == QueueControls.Order.DELETE);
            assertThat(b.order("01M8HP0WBHRMBEG60TYD")).isNull();
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> b.order("01M8HP0WBHRMBEG60TYC") == null);

            a.order("01M8HP0WBHRMBEG60TYE", QueueControls.Order.FAIL);
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> b.order("01M8HP0WBHRMBEG60TYE") == QueueControls.Order.FAIL);
            members.get(1).shutdown();
            members.get(0).shutdown();
            assertThat(b.held("b.example")).as("without Hazelcast, mail goes ahead").isFalse();
            assertThat(b.order("01M8HP0WBHRMBEG60TYE")).isNull();
        } finally {
            members.forEach(HazelcastInstance::shutdown);
        }
    }
}
