package net.mailrelay.protocol.record;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class SuppressionEntryTest {

    @Test
    void theCachedValueGivesTheReasonUntilTheEntryExpires() {
        SuppressionEntry e = new SuppressionEntry("Gone@Example.NET", "550 5.1.1 user\tunknown", "5.1.1", 1_000, 5_000);
        assertThat(SuppressionEntry.key(e.address())).isEqualTo("gone@example.net");
        assertThat(SuppressionEntry.reasonIfActive(e.cacheValue(), 4_999)).isEqualTo("550 5.1.1 user\tunknown");
        assertThat(SuppressionEntry.reasonIfActive(e.cacheValue(), 5_000)).isNull();
        assertThat(e.activeAt(4_999)).isTrue();
        assertThat(e.activeAt(5_000)).isFalse();
    }

    @Test
    void aMissingOrDamagedValueSuppressesNothing() {
        assertThat(SuppressionEntry.reasonIfActive(null, 0)).isNull();
        assertThat(SuppressionEntry.reasonIfActive("no tab here", 0)).isNull();
        assertThat(SuppressionEntry.reasonIfActive("soon\treason", 0)).isNull();
        assertThat(SuppressionEntry.reasonIfActive("\treason", 0)).isNull();
    }
}
