package net.mailrelay.protocol.smtp;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Objects;

/**
 * One SMTP reply: a code, an optional enhanced status and one or more text lines. The constructor
 * refuses combinations that RFC 3463 forbids, such as a 5xx code with a 4.x.x status.
 */
public record Reply(ReplyCode code, EnhancedStatus status, List<String> lines) {

    public Reply {
        Objects.requireNonNull(code, "code");
        lines = List.copyOf(lines);
        if (lines.isEmpty()) {
            throw new IllegalArgumentException("a reply needs at least one line");
        }
        for (String line : lines) {
            if (line.indexOf('\r') >= 0 || line.indexOf('\n') >= 0) {
                throw new IllegalArgumentException("reply text must not contain CR or LF: " + line);
            }
        }
        if (status != null && code.kind() != 3 && status.statusClass().digit() != code.kind()) {
            throw new IllegalArgumentException(
                    "reply code " + code.code() + " cannot carry enhanced status " + status);
        }
    }

    public Reply(ReplyCode code, EnhancedStatus status, String text) {
        this(code, status, List.of(text));
    }

    public boolean isPositive() {
        return code.kind() == 2 || code.kind() == 3;
    }

    public boolean isTransientFailure() {
        return code.kind() == 4;
    }

    public boolean isPermanentFailure() {
        return code.kind() == 5;
    }

    /** The reply as it goes on the wire: each line CRLF-terminated, continuation lines with a dash. */
    public String toWire() {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < lines.size(); i++) {
            sb.append(code.code()).append(i == lines.size() - 1 ? ' ' : '-');
            if (status != null) {
                sb.append(status).append(' ');
            }
            sb.append(lines.get(i)).append("\r\n");
        }
        return sb.toString();
    }

    public byte[] toWireBytes() {
        return toWire().getBytes(StandardCharsets.UTF_8);
    }

    /** One line for logs and DSN diagnostic codes: {@code 550 5.1.1 text}. */
    @Override
    public String toString() {
        return code.code() + (status == null ? "" : " " + status) + " " + String.join(" ", lines);
    }
}
