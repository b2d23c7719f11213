package net.mailrelay.deploy.faults;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Message {@code index} of a scenario, as the client sends it: envelope and content, without the final
 * dot. It is from {@code s-SCENARIO-i@senders.test} to {@code u-SCENARIO-i@sink.test}; every tenth also
 * to {@code permfail-SCENARIO-i@sink.test}, which the MX refuses with 550 and so must come back as a
 * DSN. Its Message-ID is {@code <SCENARIO-i@driver.test>}, which is how the reconciliation finds the
 * scenario's mail.
 */
record Message(int index, String token, String from, List<String> to, byte[] content) {

    static Message of(String scenario, int i) {
        String token = scenario + "-" + i;
        String from = "s-" + token + "@senders.test";
        List<String> to = new ArrayList<>(List.of("u-" + token + "@sink.test"));
        if (i % 10 == 0) {
            to.add("permfail-" + token + "@sink.test");
        }
        return new Message(i, token, from, List.copyOf(to), content(token, from, to));
    }

    private static byte[] content(String token, String from, List<String> to) {
        StringBuilder m = new StringBuilder(1200);
        m.append("From: <").append(from).append(">\r\n");
        m.append("To: ").append(String.join(", ", to.stream().map(r -> "<" + r + ">").toList())).append("\r\n");
        m.append("Subject: fault suite ").append(token).append("\r\n");
        m.append("Message-ID: <").append(token).append("@driver.test>\r\n");
        m.append("Date: Sun, 29 Nov 2026 00:00:00 +0000\r\n\r\n");
        for (int l = 0; l < 12; l++) {
            m.append("Line ").append(l).append(" of message ").append(token).append(": the quick brown fox jumps over the lazy dog.\r\n");
        }
        return m.toString().getBytes(StandardCharsets.US_ASCII);
    }
}
