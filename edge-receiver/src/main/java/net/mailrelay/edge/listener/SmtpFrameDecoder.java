package net.mailrelay.edge.listener;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.util.ByteProcessor;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Frames the inbound byte stream. In command mode it emits one {@link String} per line (without the line
 * ending), or {@link #LINE_TOO_LONG} for a line over the limit, whose bytes it skips up to the next LF so
 * that the conversation stays in step. In data mode it emits message content as {@link ByteBuf} slices
 * with dot-stuffing undone (RFC 5321 section 4.5.2) and then {@link EndOfData}.
 *
 * <p>The end of data is only CR LF "." CR LF: a "." line ended by a bare LF, or a "." line that follows a
 * bare LF, is content (the SMTP smuggling class of CVE-2023-51764). Bare LFs are reported so that policy
 * can refuse them.
 *
 * <p>It emits one command per decode call and stops while paused, so the handler sees each command
 * before the next is framed and the switch to data mode can never be overtaken.
 */
final class SmtpFrameDecoder extends ByteToMessageDecoder {

    static final Object LINE_TOO_LONG = new Object() {
        @Override
        public String toString() {
            return "LINE_TOO_LONG";
        }
    };

    /** The end-of-data line was read; content had {@code bareLineFeeds} lines ended by LF alone. */
    record EndOfData(int bareLineFeeds) {
    }

    /** The last octet of a BDAT chunk was read (RFC 3030). */
    static final Object CHUNK_END = new Object() {
        @Override
        public String toString() {
            return "CHUNK_END";
        }
    };

    private static final byte[] CRLF = {'\r', '\n'};

    /** Content without a line end is passed on once this much has gathered, to bound memory. */
    private static final int MAX_PENDING_CONTENT = 64 * 1024;

    private final int maxCommandLine;
    private final boolean normalizeBareLineFeeds;
    private boolean dataMode;
    private long chunkRemaining = -1;
    private boolean discardChunk;
    private boolean paused;
    private boolean discardingLongLine;
    // Data mode state.
    private boolean atLineStart;
    private boolean previousLineEndedWithCrLf;
    private int bareLineFeeds;

    /**
     * @param normalizeBareLineFeeds pass a bare LF in message content on as CRLF; otherwise pass it on
     *     as it is (and count it, so that policy can refuse the message)
     */
    SmtpFrameDecoder(int maxCommandLine, boolean normalizeBareLineFeeds) {
        this.maxCommandLine = maxCommandLine;
        this.normalizeBareLineFeeds = normalizeBareLineFeeds;
    }

    /** Reads exactly {@code octets} (at least 1) raw octets, passed on or dropped, then {@link #CHUNK_END}. */
    void startChunk(long octets, boolean discard) {
        if (octets < 1) {
            throw new IllegalArgumentException("a chunk to read has at least one octet");
        }
        chunkRemaining = octets;
        discardChunk = discard;
    }

    /**
     * Drops every byte received but not yet framed. After STARTTLS, anything the client sent before the
     * handshake is plaintext that could have been injected by an attacker (CVE-2011-0411).
     */
    void discardBuffered() {
        ByteBuf pending = internalBuffer();
        pending.skipBytes(pending.readableBytes());
    }

    void startData() {
        dataMode = true;
        atLineStart = true;
        previousLineEndedWithCrLf = true;
        bareLineFeeds = 0;
    }

    void pause() {
        paused = true;
    }

    /** Resumes framing, including bytes that arrived while paused. */
    void resume(ChannelHandlerContext decoderContext) throws Exception {
        paused = false;
        channelRead(decoderContext, decoderContext.alloc().buffer(0));
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (paused) {
            return;
        }
        if (chunkRemaining > 0) {
            decodeChunk(in, out);
        } else if (dataMode) {
            decodeData(in, out);
        } else {
            decodeCommand(in, out);
        }
    }

    private void decodeChunk(ByteBuf in, List<Object> out) {
        int n = (int) Math.min(in.readableBytes(), chunkRemaining);
        if (discardChunk) {
            in.skipBytes(n);
        } else {
            out.add(in.readRetainedSlice(n));
        }
        chunkRemaining -= n;
        if (chunkRemaining == 0) {
            chunkRemaining = -1;
            out.add(CHUNK_END);
        }
    }

    private void decodeCommand(ByteBuf in, List<Object> out) {
        int lf = in.forEachByte(ByteProcessor.FIND_LF);
        if (discardingLongLine) {
            if (lf < 0) {
                in.skipBytes(in.readableBytes());
                return;
            }
            in.readerIndex(lf + 1);
            discardingLongLine = false;
            out.add(LINE_TOO_LONG);
            return;
        }
        if (lf < 0) {
            if (in.readableBytes() > maxCommandLine) {
                in.skipBytes(in.readableBytes());
                discardingLongLine = true;
            }
            return;
        }
        int length = lf - in.readerIndex();
        if (length > maxCommandLine) {
            in.readerIndex(lf + 1);
            out.add(LINE_TOO_LONG);
            return;
        }
        int end = length > 0 && in.getByte(lf - 1) == '\r' ? lf - 1 : lf;
        String line = in.toString(in.readerIndex(), end - in.readerIndex(), StandardCharsets.UTF_8);
        in.readerIndex(lf + 1);
        out.add(line);
    }

    private void decodeData(ByteBuf in, List<Object> out) {
        int chunkStart = in.readerIndex();
        while (in.isReadable()) {
            int start = in.readerIndex();
            int lf = in.forEachByte(ByteProcessor.FIND_LF);
            if (lf < 0) {
                if (in.readableBytes() >= MAX_PENDING_CONTENT || !atLineStart) {
                    // A very long line: pass on what there is. A trailing CR stays behind so that the
                    // CR LF pair is still seen as one line ending when the LF arrives.
                    if (atLineStart && in.getByte(start) == '.') {
                        emit(in, chunkStart, start, out);
                        chunkStart = start + 1;
                    }
                    int end = in.getByte(in.writerIndex() - 1) == '\r' ? in.writerIndex() - 1 : in.writerIndex();
                    emit(in, chunkStart, end, out);
                    in.readerIndex(Math.max(end, in.readerIndex()));
                    atLineStart = false;
                } else {
                    emit(in, chunkStart, start, out);
                }
                return;
            }
            boolean crlf = lf > start && in.getByte(lf - 1) == '\r';
            if (atLineStart && in.getByte(start) == '.') {
                int length = lf + 1 - start;
                if (length == 3 && crlf && previousLineEndedWithCrLf) {
                    emit(in, chunkStart, start, out);
                    in.readerIndex(lf + 1);
                    dataMode = false;
                    out.add(new EndOfData(bareLineFeeds));
                    return;
                }
                // Dot-stuffed line: drop the leading dot.
                emit(in, chunkStart, start, out);
                chunkStart = start + 1;
            }
            if (!crlf) {
                bareLineFeeds++;
                if (normalizeBareLineFeeds) {
                    emit(in, chunkStart, lf, out);
                    out.add(Unpooled.wrappedBuffer(CRLF));
                    chunkStart = lf + 1;
                }
            }
            previousLineEndedWithCrLf = crlf;
            atLineStart = true;
            in.readerIndex(lf + 1);
        }
        emit(in, chunkStart, in.readerIndex(), out);
    }

    private static void emit(ByteBuf in, int from, int to, List<Object> out) {
        if (to > from) {
            out.add(in.retainedSlice(from, to - from));
        }
    }
}
