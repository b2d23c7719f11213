package net.mailrelay.edge.session;

import java.nio.ByteBuffer;

/**
 * What the edge needs to know about a received message's header section: how many Received: fields
 * (loop detection, RFC 5321 section 6.3) and whether it has Message-ID: and Date: (RFC 6409 section 8).
 * Header names are matched case-insensitively at the start of a line; folded continuation lines are
 * skipped. The scan stops at the first empty line, so the body is never read.
 */
public record MessageFacts(int receivedHeaders, boolean hasMessageId, boolean hasDate, int bareLineFeeds) {

    public static MessageFacts scan(ByteBuffer message, int bareLineFeeds) {
        int received = 0;
        boolean messageId = false;
        boolean date = false;
        int pos = message.position();
        int end = message.limit();
        while (pos < end) {
            int lineEnd = pos;
            while (lineEnd < end && message.get(lineEnd) != '\n') {
                lineEnd++;
            }
            int length = lineEnd - pos;
            if (length > 0 && message.get(lineEnd - 1) == '\r') {
                length--;
            }
            if (length == 0) {
                break; // end of the header section
            }
            byte first = message.get(pos);
            if (first != ' ' && first != '\t') {
                if (startsWith(message, pos, length, "received:")) {
                    received++;
                } else if (startsWith(message, pos, length, "message-id:")) {
                    messageId = true;
                } else if (startsWith(message, pos, length, "date:")) {
                    date = true;
                }
            }
            pos = lineEnd + 1;
        }
        return new MessageFacts(received, messageId, date, bareLineFeeds);
    }

    private static boolean startsWith(ByteBuffer b, int pos, int length, String lowerName) {
        if (length < lowerName.length()) {
            return false;
        }
        for (int i = 0; i < lowerName.length(); i++) {
            int c = b.get(pos + i);
            if (c >= 'A' && c <= 'Z') {
                c += 'a' - 'A';
            }
            if (c != lowerName.charAt(i)) {
                return false;
            }
        }
        return true;
    }
}
