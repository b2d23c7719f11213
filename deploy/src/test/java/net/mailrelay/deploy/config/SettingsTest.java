package net.mailrelay.deploy.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SettingsTest {

    @TempDir
    Path dir;

    @Test
    void laterSourcesWinOverEarlierOnes() throws Exception {
        Path file = dir.resolve("relay.properties");
        Files.writeString(file, "smtp.port=2000\nsmtp.idle-timeout=60s\nrelay-domains=a.test\n");
        Settings s = Settings.resolve(Map.of("smtp.port", "1000", "http.port", "9000"), file,
                Map.of("MAILRELAY_SMTP_IDLE_TIMEOUT", "90s", "PATH", "/bin"), Map.of("relay-domains", "b.test,c.test"));
        assertThat(s.get(Keys.SMTP_PORT)).isEqualTo(2000);
        assertThat(s.get(Keys.HTTP_PORT)).isEqualTo(9000);
        assertThat(s.get(Keys.SMTP_IDLE)).isEqualTo(Duration.ofSeconds(90));
        assertThat(s.get(Keys.RELAY_DOMAINS)).containsExactly("b.test", "c.test");
        assertThat(s.get(Keys.MAX_MESSAGE_SIZE)).isEqualTo(25L << 20);
        assertThat(s.get(Keys.RETRY_TIERS)).hasSize(5);
    }

    @Test
    void zeroNeedsNoUnitWhereZeroMeansOff() {
        assertThat(Settings.of(Map.of("dsn.delay-warning", "0")).get(Keys.DELAY_WARNING)).isZero();
        assertThat(Settings.of(Map.of("dsn.delay-warning", "0s")).get(Keys.DELAY_WARNING)).isZero();
        assertThatThrownBy(() -> Settings.of(Map.of("queue.max-lifetime", "0"))).isInstanceOf(ConfigException.class);
    }

    @Test
    void unknownKeysAreRejectedWhereverTheyComeFrom() throws Exception {
        Path file = dir.resolve("typo.properties");
        Files.writeString(file, "smtp.prot=25\n");
        assertThatThrownBy(() -> Settings.resolve(Map.of(), file, Map.of(), Map.of()))
                .isInstanceOf(ConfigException.class).hasMessageContaining("'smtp.prot'").hasMessageContaining(file.toString());
        assertThatThrownBy(() -> Settings.resolve(Map.of(), null, Map.of("MAILRELAY_SMTP_PROT", "25"), Map.of()))
                .isInstanceOf(ConfigException.class).hasMessageContaining("MAILRELAY_SMTP_PROT");
        assertThatThrownBy(() -> Settings.of(Map.of("nope", "1"))).hasMessageContaining("'nope'");
    }

    @Test
    void badValuesNameTheirKey() {
        assertThatThrownBy(() -> Settings.of(Map.of("smtp.port", "seventy"))).isInstanceOf(ConfigException.class)
                .hasMessageContaining("'smtp.port'").hasMessageContaining("seventy");
        assertThatThrownBy(() -> Settings.of(Map.of("trusted-networks", "10.0.0.0/33")))
                .hasMessageContaining("'trusted-networks'");
        assertThatThrownBy(() -> Settings.of(Map.of("route", "example.com")))
                .hasMessageContaining("'route'").hasMessageContaining("DOMAIN=HOST:PORT");
        assertThatThrownBy(() -> Settings.of(Map.of("queue.retry-tiers", "5")))
                .hasMessageContaining("'queue.retry-tiers'");
        assertThatThrownBy(() -> Settings.of(Map.of("message.max-size", "big")))
                .hasMessageContaining("'message.max-size'");
        assertThatThrownBy(() -> Settings.of(Map.of("delivery.own-addresses", "192.0.2.7,lb.example.net")))
                .hasMessageContaining("'delivery.own-addresses'").hasMessageContaining("lb.example.net");
    }

    @Test
    void requiredKeysSayWhatTheyAre() {
        assertThatThrownBy(() -> Settings.of(Map.of()).get(Keys.BOOTSTRAP_SERVERS))
                .hasMessageContaining("'kafka.bootstrap-servers'").hasMessageContaining("required");
    }

    @Test
    void parsesSizesListsAndRoutes() {
        Settings s = Settings.of(Map.of("message.max-size", "10MiB", "route", "a.test=127.0.0.1:2525, *=[smart.test]:587",
                "hazelcast.members", "10.0.0.1:5701,10.0.0.2:5701"));
        assertThat(s.get(Keys.MAX_MESSAGE_SIZE)).isEqualTo(10L << 20);
        assertThat(s.get(Keys.ROUTES).lookup("other.test")).isPresent();
        assertThat(s.get(Keys.HAZELCAST_MEMBERS)).isEqualTo(List.of("10.0.0.1:5701", "10.0.0.2:5701"));
        assertThat(Settings.of(Map.of("delivery.own-addresses", "192.0.2.7, [2001:db8::25]")).get(Keys.OWN_ADDRESSES))
                .extracting(java.net.InetAddress::getHostAddress).containsExactly("192.0.2.7", "2001:db8:0:0:0:0:0:25");
    }

    @Test
    void everyKeyHasAnEnvironmentNameAndDocumentation() {
        for (Key<?> k : Keys.ALL) {
            assertThat(k.environmentVariable()).matches("MAILRELAY_[A-Z0-9_]+");
            assertThat(k.doc()).isNotBlank();
        }
        assertThat(Keys.SMTP_IDLE.environmentVariable()).isEqualTo("MAILRELAY_SMTP_IDLE_TIMEOUT");
    }

    @Test
    void everyDeclaredKeyIsListed() throws Exception {
        for (var f : Keys.class.getFields()) {
            if (f.getType() == Key.class) {
                assertThat(Keys.ALL).as(f.getName()).contains((Key<?>) f.get(null));
            }
        }
        assertThat(Keys.ALL.stream().map(Key::name).distinct().count()).isEqualTo(Keys.ALL.size());
    }
}
