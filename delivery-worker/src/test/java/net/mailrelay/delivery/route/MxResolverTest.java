package net.mailrelay.delivery.route;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import net.mailrelay.testing.DnsResponder;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class MxResolverTest {

    @RegisterExtension
    static final DnsResponder DNS = new DnsResponder();

    static MxResolver resolver;

    @BeforeAll
    static void zone() {
        DNS.mx("ordered.test", 20, "b.ordered.test").mx("ordered.test", 10, "a.ordered.test")
                .address("a.ordered.test", "127.0.0.2").address("b.ordered.test", "127.0.0.3")
                .address("b.ordered.test", "::1");
        for (int i = 1; i <= 4; i++) {
            DNS.mx("shuffled.test", 10, "m" + i + ".shuffled.test").address("m" + i + ".shuffled.test", "127.0.1." + i);
        }
        DNS.address("implicit.test", "127.0.0.9");
        DNS.mx("nullmx.test", 0, ".");
        DNS.servfail("broken.test");
        DNS.silent("slow.test");
        DNS.mx("dangling.test", 10, "nowhere.dangling.test");
        resolver = new MxResolver(MxResolver.resolver(DNS.hostPort(), Duration.ofMillis(500)), 0, 5, 2525);
    }

    static List<String> targets(Resolution r) {
        return ((Resolution.Targets) r).targets().stream()
                .map(t -> t.host() + "/" + t.address().getAddress().getHostAddress() + ":" + t.address().getPort())
                .toList();
    }

    @Test
    void sortsByPreference() {
        assertThat(targets(resolver.resolve("ordered.test"))).containsExactly(
                "a.ordered.test/127.0.0.2:2525", "b.ordered.test/127.0.0.3:2525", "b.ordered.test/0:0:0:0:0:0:0:1:2525");
    }

    @Test
    void shufflesEqualPreferences() {
        Set<String> firsts = new HashSet<>();
        for (int i = 0; i < 40; i++) {
            List<String> t = targets(resolver.resolve("shuffled.test"));
            assertThat(t).hasSize(4);
            firsts.add(t.get(0));
        }
        assertThat(firsts).hasSizeGreaterThan(1);
    }

    @Test
    void usesTheDomainItselfWithoutMx() {
        assertThat(targets(resolver.resolve("implicit.test"))).containsExactly("implicit.test/127.0.0.9:2525");
    }

    @Test
    void failsPermanentlyForNullMxAndMissingDomains() {
        Resolution.Failure nullMx = (Resolution.Failure) resolver.resolve("nullmx.test");
        assertThat(nullMx.status()).hasToString("5.1.10");
        Resolution.Failure missing = (Resolution.Failure) resolver.resolve("missing.test");
        assertThat(missing.status()).hasToString("5.1.2");
        assertThat(missing.text()).contains("Host not found");
        Resolution.Failure dangling = (Resolution.Failure) resolver.resolve("dangling.test");
        assertThat(dangling.status()).hasToString("5.4.4");
    }

    @Test
    void failsTemporarilyForServerFailureAndTimeout() {
        assertThat(((Resolution.Failure) resolver.resolve("broken.test")).status()).hasToString("4.4.3");
        assertThat(((Resolution.Failure) resolver.resolve("slow.test")).status()).hasToString("4.4.3");
    }

    @Test
    void resolvesStaticNextHops() {
        assertThat(targets(resolver.resolveHost("127.0.0.5", 2600))).containsExactly("127.0.0.5/127.0.0.5:2600");
        assertThat(targets(resolver.resolveHost("a.ordered.test", 26))).containsExactly("a.ordered.test/127.0.0.2:26");
    }

    @Test
    void parsesTransportEntries() {
        TransportTable t = TransportTable.parse(List.of("routed.test=127.0.0.1:2525", "relay.test=[mx.relay.test]",
                "viamx.test=mail.example", "*=smarthost.test:587"));
        assertThat(t.lookup("ROUTED.test")).contains(new NextHop("127.0.0.1", 2525, false));
        assertThat(t.lookup("relay.test")).contains(new NextHop("mx.relay.test", 25, false));
        assertThat(t.lookup("viamx.test")).contains(new NextHop("mail.example", 25, true));
        assertThat(t.lookup("anything.test")).contains(new NextHop("smarthost.test", 587, false));
        assertThat(TransportTable.EMPTY.lookup("x.test")).isEmpty();
    }

    /**
     * Issue 15, defect 6: an MX that is this relay. Postfix: only the hosts preferred to itself are
     * tried, and with none left the mail "loops back to myself" and bounces with 5.4.6.
     */
    @Test
    void refusesAnMxThatLoopsBackToThisRelay() throws Exception {
        DNS.mx("self.test", 10, "Relay.Example.test").address("relay.example.test", "127.0.0.12")
                .mx("behind.test", 10, "better.behind.test").address("better.behind.test", "127.0.0.13")
                .mx("behind.test", 20, "lb.behind.test").address("lb.behind.test", "127.0.0.14")
                .mx("local.test", 10, "mx.local.test").address("mx.local.test", "127.0.0.15")
                .address("implicit-self.test", "127.0.0.14");
        MxResolver byName = new MxResolver(MxResolver.resolver(DNS.hostPort(), Duration.ofMillis(500)), 0, 5, 2525,
                new Myself("relay.example.test", Set.of(), Set.of()));
        Resolution.Failure loop = (Resolution.Failure) byName.resolve("self.test");
        assertThat(loop.status()).hasToString("5.4.6");
        assertThat(loop.text()).contains("mail for self.test loops back to myself");

        MxResolver byAddress = new MxResolver(MxResolver.resolver(DNS.hostPort(), Duration.ofMillis(500)), 0, 5, 2525,
                new Myself("relay.example.test", Set.of(java.net.InetAddress.getByName("127.0.0.14")), Set.of()));
        assertThat(targets(byAddress.resolve("behind.test"))).as("only the hosts preferred to this relay")
                .containsExactly("better.behind.test/127.0.0.13:2525");
        assertThat(((Resolution.Failure) byAddress.resolve("implicit-self.test")).status()).hasToString("5.4.6");

        MxResolver byListener = new MxResolver(MxResolver.resolver(DNS.hostPort(), Duration.ofMillis(500)), 0, 5, 2525,
                new Myself("", Set.of(), Set.of(new java.net.InetSocketAddress("0.0.0.0", 2525))));
        assertThat(((Resolution.Failure) byListener.resolve("local.test")).status()).hasToString("5.4.6");
        MxResolver otherPort = new MxResolver(MxResolver.resolver(DNS.hostPort(), Duration.ofMillis(500)), 0, 5, 2525,
                new Myself("", Set.of(), Set.of(new java.net.InetSocketAddress("0.0.0.0", 2587))));
        assertThat(targets(otherPort.resolve("local.test"))).as("nothing of ours listens there")
                .containsExactly("mx.local.test/127.0.0.15:2525");
        assertThat(targets(resolver.resolve("self.test"))).as("without a self, no loop is seen").hasSize(1);
    }

    @Test
    void cachesAnswersForTheirTtl() {
        DNS.ttl(60).mx("cached.test", 10, "mx.cached.test").address("mx.cached.test", "127.0.0.7");
        DNS.ttl(1).mx("brief.test", 10, "mx.brief.test").address("mx.brief.test", "127.0.0.8").ttl(60);
        MxResolver caching = new MxResolver(MxResolver.resolver(DNS.hostPort(), Duration.ofMillis(500)), 1000, 5, 25);
        for (int i = 0; i < 5; i++) {
            assertThat(targets(caching.resolve("cached.test"))).containsExactly("mx.cached.test/127.0.0.7:25");
        }
        assertThat(DNS.timesAsked("cached.test", "MX")).isEqualTo(1);
        assertThat(DNS.timesAsked("mx.cached.test", "A")).isEqualTo(1);
        caching.resolve("brief.test");
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> {
            caching.resolve("brief.test");
            return DNS.timesAsked("brief.test", "MX") >= 2;
        });
    }
}
