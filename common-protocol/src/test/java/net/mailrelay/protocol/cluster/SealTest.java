package net.mailrelay.protocol.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class SealTest {

    static final Seal SEAL = Seal.of("a cluster secret of 32 bytes....".getBytes(StandardCharsets.US_ASCII));

    @Test
    void aSealedValueOpensUnderItsKeyOnly() {
        String v = SEAL.seal("q1 bob@x.test", "D1700000000000");
        assertThat(SEAL.open("q1 bob@x.test", v)).isEqualTo("D1700000000000");
        assertThat(SEAL.open("q2 bob@x.test", v)).as("copied to another key").isNull();
    }

    @Test
    void whatThisClusterDidNotSealIsAbsent() {
        String v = SEAL.seal("k", "D1700000000000");
        assertThat(SEAL.open("k", "D1700000000000")).as("unsigned").isNull();
        assertThat(SEAL.open("k", v.replace("D17", "D18"))).as("payload changed").isNull();
        assertThat(SEAL.open("k", v.substring(0, v.length() - 1) + (v.endsWith("A") ? "B" : "A"))).as("mac changed").isNull();
        assertThat(SEAL.open("k", 5L)).as("not a string").isNull();
        assertThat(SEAL.open("k", null)).isNull();
        assertThat(Seal.random().open("k", v)).as("another cluster's secret").isNull();
        assertThat(SEAL.open("k", SEAL.seal("k", "a~b"))).as("a tilde in the payload").isEqualTo("a~b");
    }

    @Test
    void aShortSecretIsRefused() {
        assertThatThrownBy(() -> Seal.of(new byte[8])).hasMessageContaining("at least 16 bytes");
    }
}
