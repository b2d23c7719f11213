package net.mailrelay.edge.listener;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import net.mailrelay.edge.session.MessageFacts;

/**
 * The content of the message being received, bounded by the size limit: past the limit it is counted
 * and dropped, so that the 552 can come at the end of the data as RFC 1870 wants, without the memory.
 */
final class MessageContent {

    private final long limit;
    private ByteBuf buffer;
    private long size;

    MessageContent(ByteBufAllocator alloc, long limit) {
        this.limit = limit;
        this.buffer = alloc.heapBuffer(8192);
    }

    void append(ByteBuf chunk) {
        try {
            size += chunk.readableBytes();
            if (buffer != null && size <= limit) {
                buffer.writeBytes(chunk);
            } else {
                release();
            }
        } finally {
            chunk.release();
        }
    }

    long size() {
        return size;
    }

    /** Header facts of what was kept (nothing when over the limit: the message is refused anyway). */
    MessageFacts facts(int bareLineFeeds) {
        if (buffer == null) {
            return new MessageFacts(0, true, true, bareLineFeeds);
        }
        return MessageFacts.scan(buffer.nioBuffer(), bareLineFeeds);
    }

    /** The record value: head, trace headers, then the content; releases the content. */
    byte[] toRecordValue(byte[] head, byte[] trace) {
        int n = buffer.readableBytes();
        byte[] value = new byte[head.length + trace.length + n];
        System.arraycopy(head, 0, value, 0, head.length);
        System.arraycopy(trace, 0, value, head.length, trace.length);
        buffer.readBytes(value, head.length + trace.length, n);
        release();
        return value;
    }

    void release() {
        if (buffer != null) {
            buffer.release();
            buffer = null;
        }
    }
}
