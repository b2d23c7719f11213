package net.mailrelay.protocol.dsn;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class FailureClassifierTest {

    @ParameterizedTest(name = "{0} {1} -> {2}")
    @CsvSource(delimiter = '|', value = {
        "5.1.1 | smtp; 550 5.1.1 <x@y>: Recipient address rejected: User unknown | INVALID_MAILBOX",
        "5.0.0 | smtp; 550 No such user here | INVALID_MAILBOX",
        "5.0.0 | smtp; 550 5.0.0 mailbox unavailable | INVALID_MAILBOX",
        "5.2.2 | smtp; 552 5.2.2 Mailbox full | MAILBOX_FULL",
        "4.2.2 | smtp; 452 4.2.2 Over quota | MAILBOX_FULL",
        "5.0.0 | smtp; 554 quota exceeded | MAILBOX_FULL",
        "5.7.1 | smtp; 554 5.7.1 Service unavailable; client host blocked using zen.spamhaus.org | POLICY_BLOCK",
        "5.0.0 | smtp; 550 Message rejected as spam | POLICY_BLOCK",
        "5.7.26 | smtp; 550 5.7.26 Unauthenticated email is not accepted (DMARC) | POLICY_BLOCK",
        "5.1.2 | Host or domain name not found. Name service error for name=x type=MX: Host not found | DNS_FAILURE",
        "5.1.10 | Domain x does not accept mail (nullMX) | DNS_FAILURE",
        "4.4.3 | Name service error: SERVFAIL | DNS_FAILURE",
        "4.7.5 | TLS handshake with mx failed: bad certificate | TLS_FAILURE",
        "4.7.4 | TLS is required, but was not offered by host mx | TLS_FAILURE",
        "5.4.6 | smtp; 554 5.4.6 Error: too many hops | ROUTING_LOOP",
        "5.3.4 | smtp; 552 5.3.4 Message size exceeds fixed limit | MESSAGE_TOO_BIG",
        "4.4.7 | connect to mx: Connection refused | EXPIRED",
        "5.7.1 | smtp; 554 5.7.1 <x@y>: Recipient address rejected: Access denied | POLICY_BLOCK",
        "5.7.1 | smtp; 554 5.7.1 <x@y>: Relay access denied | POLICY_BLOCK",
        "5.0.0 | smtp; 550 Recipient address rejected: greylisted, try later | OTHER",
        "5.0.0 | smtp; 554 Transaction failed | OTHER",
        "4.4.1 | connect to mx[192.0.2.1]:25: Connection refused | OTHER",
    })
    void classifies(String status, String diagnostic, FailureClass expected) {
        assertThat(FailureClassifier.classify(status.trim(), diagnostic.trim())).isEqualTo(expected);
    }
}
