package net.mailrelay.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

/** The queue command's tables, from answers shaped as the admin API gives them. */
class QueueTablesTest {

    static final ObjectMapper JSON = new ObjectMapper();

    static JsonNode json(String text) throws Exception {
        return JSON.readTree(text.replace('\'', '"'));
    }

    @Test
    void theSummaryReadsLikeQshape() throws Exception {
        String out = QueueTables.summary(json("""
                {'generatedAtMillis': 0, 'bucketMinutes': [5,10,20,40,80,160,320,640,1280], 'scanLimit': 100000,
                 'scanned': 3, 'truncated': false, 'topics': [
                  {'topic': 'mail.outbound', 'kind': 'outbound', 'group': 'mail-relay-worker', 'lag': 0,
                   'oldestAgeSeconds': null, 'oldestQueueId': null, 'recipients': 0, 'destinations': []},
                  {'topic': 'mail.retry.1h', 'kind': 'retry', 'group': 'mail-relay-worker', 'lag': 2,
                   'oldestAgeSeconds': 4000, 'oldestQueueId': '01M8HP0WBHRMBEG60TYC', 'recipients': 3, 'destinations': [
                     {'destination': 'example.net', 'recipients': 2, 'buckets': [0,0,0,0,2,0,0,0,0,0]},
                     {'destination': 'example.org', 'recipients': 1, 'buckets': [0,0,0,0,0,0,0,0,0,1]}]}]}
                """));
        assertThat(out.lines()).contains(
                "mail.outbound                mail-relay-worker                   0  -",
                "mail.retry.1h                mail-relay-worker                   2  1h06m (01M8HP0WBHRMBEG60TYC)",
                "mail.retry.1h: recipients by destination and message age (minutes)",
                "                                    T     5    10    20    40    80   160   320   640  1280 1280+",
                "                         TOTAL      3     0     0     0     0     2     0     0     0     0     1",
                "                   example.net      2     0     0     0     0     2     0     0     0     0     0",
                "3 waiting records read");
    }

    @Test
    void aMessageReadsLikePostqueue() throws Exception {
        String out = QueueTables.message(json("""
                {'queueId': '01M8HP0WBHRMBEG60TYC', 'arrivedAtMillis': 1795888652943, 'sender': 'me@example.org', 'size': 424,
                 'state': 'deferred', 'attempts': 2, 'lastReply': 'x', 'remoteHost': 'mx.example.net', 'truncated': false,
                 'pendingOrder': null, 'recipients': [
                  {'recipient': 'a@example.net', 'outcome': 'DEFERRED', 'attempt': 2, 'atMillis': 1795888712943,
                   'status': '4.3.0', 'reply': 'host mx.example.net[192.0.2.1] said: 451 4.3.0 busy (in reply to RCPT TO command)',
                   'remoteHost': 'mx.example.net', 'remoteAddress': '192.0.2.1:25'},
                  {'recipient': 'b@example.net', 'outcome': 'QUEUED', 'attempt': 0, 'atMillis': null, 'status': null,
                   'reply': null, 'remoteHost': null, 'remoteAddress': null}]}
                """));
        assertThat(out.lines()).contains(
                "01M8HP0WBHRMBEG60TYC       424 2026-11-28 17:57:32Z  me@example.org",
                " ".repeat(52) + "(host mx.example.net[192.0.2.1] said: 451 4.3.0 busy (in reply to RCPT TO command))",
                " ".repeat(52) + "a@example.net  DEFERRED attempt 2 at 2026-11-28 17:58:32Z via mx.example.net",
                " ".repeat(52) + "b@example.net  QUEUED",
                "state: deferred, attempts: 2");
    }

    @Test
    void holdsAndAgesAreShort() throws Exception {
        assertThat(QueueTables.holds(json("{'holds': []}"))).isEqualTo("no destination is on hold\n");
        assertThat(QueueTables.holds(json("{'holds': [{'destination': 'example.net', 'sinceMillis': 0}]}")))
                .contains("example.net                              1970-01-01 00:00:00Z");
        assertThat(QueueTables.age(59)).isEqualTo("59s");
        assertThat(QueueTables.age(75)).isEqualTo("1m15s");
        assertThat(QueueTables.age(2 * 86400 + 3600)).isEqualTo("2d01h");
    }
}
