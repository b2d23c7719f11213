package net.mailrelay.protocol.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class SealTest {

    static final Seal SEAL = Seal.of("a cluster secret of 32 bytes....".getBytes(StandardCharsets.US_ASCII));
    static final long NOW = 1_700_000_000_000L;
    static final long LATER = NOW + 60_000;

    @Test
    void aSealedValueOpensUnderItsMapAndKeyOnly() {
        String v = SEAL.seal("ledger", "q1 bob@x.test", "D1700000000000", LATER);
        assertThat(SEAL.open("ledger", "q1 bob@x.test", v, NOW)).isEqualTo("D1700000000000");
        assertThat(SEAL.open("ledger", "q2 bob@x.test", v, NOW)).as("copied to another key").isNull();
        assertThat(SEAL.open("claims", "q1 bob@x.test", v, NOW)).as("copied to another map").isNull();
    }

    /** Issue 29: a genuine value written back once its time is over does not open. */
    @Test
    void aSealedValueOpensUntilItsExpiryAndNotAfter() {
        String v = SEAL.seal("claims", "k", "member/1", LATER);
        assertThat(SEAL.open("claims", "k", v, LATER - 1)).isEqualTo("member/1");
        assertThat(SEAL.open("claims", "k", v, LATER)).as("expired").isNull();
        String stretched = v.replace("~" + Long.toString(LATER, 36) + "~", "~" + Long.toString(LATER * 2, 36) + "~");
        assertThat(stretched).isNotEqualTo(v);
        assertThat(SEAL.open("claims", "k", stretched, NOW)).as("its expiry moved").isNull();
    }

    @Test
    void whatThisClusterDidNotSealIsAbsent() {
        String v = SEAL.seal("m", "k", "D1700000000000", LATER);
        assertThat(SEAL.open("m", "k", "D1700000000000", NOW)).as("unsigned").isNull();
        assertThat(SEAL.open("m", "k", v.replace("D17", "D18"), NOW)).as("payload changed").isNull();
        assertThat(SEAL.open("m", "k", v.substring(0, v.length() - 1) + (v.endsWith("A") ? "B" : "A"), NOW)).as("mac changed")
                .isNull();
        assertThat(SEAL.open("m", "k", "D1700000000000~AAAAAAAAAAAAAAAAAAAAAA", NOW)).as("the old format").isNull();
        assertThat(SEAL.open("m", "k", "x~zzzzzzzzzzzzzzzzzzzzz~" + v.substring(v.lastIndexOf('~') + 1), NOW)).isNull();
        assertThat(SEAL.open("m", "k", 5L, NOW)).as("not a string").isNull();
        assertThat(SEAL.open("m", "k", null, NOW)).isNull();
        assertThat(Seal.random().open("m", "k", v, NOW)).as("another cluster's secret").isNull();
        assertThat(SEAL.open("m", "k", SEAL.seal("m", "k", "a~b", LATER), NOW)).as("a tilde in the payload").isEqualTo("a~b");
        assertThat(Seal.payloadOf(SEAL.seal("m", "k", "a~b", LATER))).isEqualTo("a~b");
    }

    @Test
    void aShortSecretIsRefused() {
        assertThatThrownBy(() -> Seal.of(new byte[8])).hasMessageContaining("at least 16 bytes");
    }
}
