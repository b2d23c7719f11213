package net.mailrelay.edge;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import net.mailrelay.testing.KafkaBroker;
import net.mailrelay.testing.KafkaFixture;
import net.mailrelay.testing.SmtpTranscript;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Hostile clients against a real edge on real sockets: thousands of connections that trickle a byte at a
 * time, over-long lines, endless RCPTs and a DATA stream far past the size limit. Each gets its SMTP
 * answer, the edge keeps serving everyone else, and its heap does not grow with what the clients send.
 */
@ExtendWith(KafkaFixture.class)
class ResourceLimitsTest {

    static final int SLOW_CLIENTS = 2000;
    static final long MAX_MESSAGE = 1 << 20;
    static EdgeReceiver edge;
    static KafkaBroker broker;

    @BeforeAll
    static void start(KafkaBroker kafka) throws Exception {
        broker = kafka;
        TestEdges t = new TestEdges(kafka.bootstrapServers(), kafka.freshTopics(List.of()));
        t.maxConnections = SLOW_CLIENTS + 100;
        t.maxConnectionsPerClient = SLOW_CLIENTS + 100;
        t.maxMessageSize = MAX_MESSAGE;
        t.idle = Duration.ofSeconds(30);
        edge = t.start(ClientGuard.NONE);
    }

    @AfterAll
    static void stop() {
        edge.close();
    }

    static int port() {
        return edge.smtpAddress().getPort();
    }

    @Test
    void thousandsOfTricklingClientsDoNotStarveAnother() throws Exception {
        List<Socket> slow = new ArrayList<>();
        try {
            for (int i = 0; i < SLOW_CLIENTS; i++) {
                Socket s = new Socket();
                s.connect(new InetSocketAddress("127.0.0.1", port()), 5_000);
                slow.add(s);
            }
            byte[] ehlo = "EHLO slow.test\r\n".getBytes(StandardCharsets.US_ASCII);
            for (int b = 0; b < 5; b++) {
                for (Socket s : slow) {
                    s.getOutputStream().write(ehlo[b]); // one byte per client per round
                }
                // Meanwhile a well-behaved client gets its whole transaction through.
                long started = System.nanoTime();
                try (SmtpTranscript c = SmtpTranscript.connect("127.0.0.1", port())) {
                    c.expect("220 ");
                    c.send("EHLO client.test");
                    c.expect("250 ");
                    assertThat(c.sendMessage("a@client.test", List.of("x@routed.test"), "Subject: t\r\n\r\nhi\r\n"))
                            .startsWith("250 2.0.0");
                }
                assertThat(Duration.ofNanos(System.nanoTime() - started)).as("round %d", b).isLessThan(Duration.ofSeconds(10));
                Thread.sleep(1_000);
            }
        } finally {
            for (Socket s : slow) {
                s.close();
            }
        }
    }

    @Test
    void aClientTricklingOneByteAtATimeIsCutOffAtTheDeadline() throws Exception {
        TestEdges t = new TestEdges(broker.bootstrapServers(), broker.freshTopics(List.of()));
        t.idle = Duration.ofSeconds(2);
        EdgeReceiver strict = t.start(ClientGuard.NONE);
        try (SmtpTranscript c = SmtpTranscript.connect("127.0.0.1", strict.smtpAddress().getPort())) {
            c.expect("220 ");
            long started = System.nanoTime();
            // Every byte arrives well within the timeout, but the line never completes in time.
            String reply = null;
            try {
                for (byte b : "EHLO trickle.test\r\n".getBytes(StandardCharsets.US_ASCII)) {
                    c.sendRaw(new byte[] {b});
                    Thread.sleep(500);
                }
            } catch (java.io.UncheckedIOException e) {
                // the edge hung up mid-line, as it should
            }
            reply = c.readReply().get(0);
            assertThat(reply).startsWith("421 4.4.2");
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(8));
        } finally {
            strict.close();
        }
    }

    @Test
    void anOverlongLineIsRefusedAndTheSessionGoesOn() {
        try (SmtpTranscript c = SmtpTranscript.connect("127.0.0.1", port())) {
            c.expect("220 ");
            char[] junk = new char[200_000];
            Arrays.fill(junk, 'x');
            c.send("EHLO " + new String(junk));
            c.expect("500 5.5.6");
            c.send("EHLO client.test");
            c.expect("250 ");
        }
    }

    @Test
    void endlessRecipientsStopAtTheLimit() {
        try (SmtpTranscript c = SmtpTranscript.connect("127.0.0.1", port())) {
            c.expect("220 ");
            c.send("EHLO client.test");
            c.expect("250 ");
            c.send("MAIL FROM:<a@client.test>");
            c.expect("250 ");
            for (int i = 0; i < 100; i++) {
                c.send("RCPT TO:<r" + i + "@routed.test>");
                c.expect("250 ");
            }
            // Past the limit: 452 (RFC 5321 section 4.5.3.1.10); after 1,000 of those (Postfix's
            // smtpd_recipient_overshoot_limit) each counts as an error, and at the error limit the edge hangs up.
            String last = null;
            int sent = 100;
            for (int i = 100; i < 2000; i++) {
                c.send("RCPT TO:<r" + i + "@routed.test>");
                sent++;
                List<String> reply = c.readReply();
                last = reply.get(reply.size() - 1);
                assertThat(last).matches("(452 4\\.5\\.3|421 4\\.7\\.0) .*");
                if (last.startsWith("421")) {
                    break;
                }
            }
            assertThat(last).startsWith("421 4.7.0");
            assertThat(sent).isEqualTo(100 + 1000 + 20);
        }
    }

    @Test
    void aHugeDataStreamIsRefusedWithoutBeingHeld() throws Exception {
        long heapBefore = usedHeapAfterGc();
        try (SmtpTranscript c = SmtpTranscript.connect("127.0.0.1", port())) {
            c.expect("220 ");
            c.send("EHLO client.test");
            c.expect("250 ");
            c.send("MAIL FROM:<a@client.test>");
            c.expect("250 ");
            c.send("RCPT TO:<x@routed.test>");
            c.expect("250 ");
            c.send("DATA");
            c.expect("354 ");
            byte[] line = new byte[1000];
            Arrays.fill(line, (byte) 'y');
            line[998] = '\r';
            line[999] = '\n';
            byte[] block = new byte[1000 * 1000];
            for (int i = 0; i < 1000; i++) {
                System.arraycopy(line, 0, block, i * 1000, 1000);
            }
            long sent = 0;
            long target = Long.getLong("resource-limits.data-bytes", 256L << 20);
            long started = System.nanoTime();
            while (sent < target) {
                c.sendRaw(block);
                sent += block.length;
            }
            c.sendRaw(".\r\n".getBytes(StandardCharsets.US_ASCII));
            c.expect("552 5.3.4");
            System.out.printf("ResourceLimitsTest: %d bytes of DATA past the size limit, refused with 552 after %.1f s%n", sent,
                    (System.nanoTime() - started) / 1e9);
            c.send("QUIT");
            c.expect("221 ");
        }
        // What the client sent was counted and dropped, not kept.
        long grown = usedHeapAfterGc() - heapBefore;
        System.out.printf("ResourceLimitsTest: heap after GC grew by %.1f MiB%n", grown / 1048576.0);
        assertThat(grown).isLessThan(64L << 20);
        try (SmtpTranscript c = SmtpTranscript.connect("127.0.0.1", port())) {
            c.expect("220 ");
        }
    }

    private static long usedHeapAfterGc() {
        System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }
}
