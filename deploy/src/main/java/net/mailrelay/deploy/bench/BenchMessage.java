package net.mailrelay.deploy.bench;

import java.nio.charset.StandardCharsets;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;

/**
 * The message the load generator sends: a few headers, the {@code X-Bench-Id} marker the sink looks
 * for, and a body of exactly {@code bodyBytes} bytes (CR LF included), as smtp-source's {@code -l},
 * which does not count the headers either. Body lines never start with a dot, so no dot-stuffing.
 */
final class BenchMessage {

    static final String MARKER_HEADER = "X-Bench-Id";
    private static final int LINE = 78;

    private final String from;
    private final String to;
    private final byte[] body;

    BenchMessage(String from, String to, int bodyBytes) {
        this.from = from;
        this.to = to;
        this.body = body(bodyBytes);
    }

    /** A body of exactly {@code size} bytes (at least 2) in lines of at most 78 characters, each ended by CR LF. */
    static byte[] body(int size) {
        if (size < 2) {
            throw new IllegalArgumentException("a body has at least 2 bytes (one CR LF), not " + size);
        }
        String pattern = "La de da de da, the quick brown fox jumps over the lazy dog. 0123456789 ";
        byte[] b = new byte[size];
        int pos = 0;
        while (pos < size) {
            int remaining = size - pos;
            int text = Math.min(LINE, remaining - 2);
            if (remaining - text - 2 == 1) {
                text--; // never leave a single byte: it could only be a bare LF
            }
            for (int i = 0; i < text; i++) {
                b[pos++] = (byte) pattern.charAt(i % pattern.length());
            }
            b[pos++] = '\r';
            b[pos++] = '\n';
        }
        return b;
    }

    byte[] headers(String marker) {
        String h = "From: <" + from + ">\r\n"
                + "To: <" + to + ">\r\n"
                + "Subject: benchmark " + marker + "\r\n"
                + "Date: " + DateTimeFormatter.RFC_1123_DATE_TIME.format(ZonedDateTime.now(ZoneOffset.UTC)) + "\r\n"
                + "Message-ID: <" + marker + "@bench.invalid>\r\n"
                + MARKER_HEADER + ": " + marker + "\r\n"
                + "\r\n";
        return h.getBytes(StandardCharsets.US_ASCII);
    }

    byte[] body() {
        return body;
    }
}
