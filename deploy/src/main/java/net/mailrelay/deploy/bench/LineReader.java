package net.mailrelay.deploy.bench;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/**
 * Reads CRLF- (or LF-) terminated lines from a stream into one reused buffer, without a lock or an
 * allocation per byte: the sink reads 100 KiB messages line by line at hundreds per second.
 */
final class LineReader {

    private final InputStream in;
    private final byte[] buf = new byte[65536];
    private int start;
    private int end;
    private byte[] line = new byte[1024];
    private int length;

    LineReader(InputStream in) {
        this.in = in;
    }

    /** Reads the next line (without its CR LF); false at the end of the stream. */
    boolean next() throws IOException {
        length = 0;
        while (true) {
            for (int i = start; i < end; i++) {
                if (buf[i] == '\n') {
                    append(start, i - start);
                    start = i + 1;
                    if (length > 0 && line[length - 1] == '\r') {
                        length--;
                    }
                    return true;
                }
            }
            append(start, end - start);
            start = 0;
            end = in.read(buf, 0, buf.length);
            if (end <= 0) {
                end = 0;
                if (length > 0) {
                    throw new EOFException("connection closed in the middle of a line");
                }
                return false;
            }
        }
    }

    /** Bytes already read from the socket and not yet returned as lines. */
    int buffered() {
        return end - start;
    }

    int length() {
        return length;
    }

    byte byteAt(int i) {
        return line[i];
    }

    /** Whether the line is exactly "." (the end of DATA). */
    boolean isDot() {
        return length == 1 && line[0] == '.';
    }

    /** Whether the line starts with {@code prefix}, ignoring ASCII case. */
    boolean startsWithIgnoreCase(String prefix) {
        if (length < prefix.length()) {
            return false;
        }
        for (int i = 0; i < prefix.length(); i++) {
            if (Character.toLowerCase((char) line[i]) != Character.toLowerCase(prefix.charAt(i))) {
                return false;
            }
        }
        return true;
    }

    String text() {
        return new String(line, 0, length, StandardCharsets.ISO_8859_1);
    }

    private void append(int from, int n) {
        if (n <= 0) {
            return;
        }
        if (length + n > line.length) {
            byte[] bigger = new byte[Math.max(line.length * 2, length + n)];
            System.arraycopy(line, 0, bigger, 0, length);
            line = bigger;
        }
        System.arraycopy(buf, from, line, length, n);
        length += n;
    }
}
