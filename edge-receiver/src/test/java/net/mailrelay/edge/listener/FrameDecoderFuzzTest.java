package net.mailrelay.edge.listener;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;

/**
 * Coverage-guided fuzz target (Jazzer) for the edge's framing of client bytes: commands, DATA content
 * (dot-unstuffing, the end-of-data line, bare CR and LF) and BDAT chunks, arriving in pieces of any size.
 * Commands never exceed the line limit or hold a line feed, content is only ever emitted in data or chunk
 * mode, and nothing leaks (every buffer is released).
 */
class FrameDecoderFuzzTest {

    @FuzzTest
    void clientBytes(FuzzedDataProvider data) {
        int maxLine = data.consumeInt(8, 1000);
        SmtpFrameDecoder decoder = new SmtpFrameDecoder(maxLine, data.consumeBoolean());
        EmbeddedChannel channel = new EmbeddedChannel(decoder);
        boolean inData = false;
        boolean inChunk = false;
        boolean discarding = false;
        long chunkLeft = 0;
        for (int round = 0; round < 50 && data.remainingBytes() > 0; round++) {
            channel.writeInbound(Unpooled.wrappedBuffer(data.consumeBytes(data.consumeInt(1, 300))));
            Object o;
            while ((o = channel.readInbound()) != null) {
                if (o instanceof String line) {
                    assertThat(inData || inChunk).as("a command while reading content").isFalse();
                    assertThat(line).doesNotContain("\n");
                    assertThat(line.length()).isLessThanOrEqualTo(maxLine);
                    // The connection handler switches the decoder as the session asks.
                    if (line.equalsIgnoreCase("DATA")) {
                        decoder.startData();
                        inData = true;
                    } else if (line.toUpperCase(java.util.Locale.ROOT).startsWith("BDAT ") && data.consumeBoolean()) {
                        chunkLeft = data.consumeLong(1, 400);
                        discarding = data.consumeBoolean();
                        inChunk = true;
                        decoder.startChunk(chunkLeft, discarding);
                    }
                } else if (o instanceof ByteBuf content) {
                    assertThat(inData || inChunk && !discarding).as("content outside DATA or BDAT").isTrue();
                    if (inChunk) {
                        chunkLeft -= content.readableBytes();
                        assertThat(chunkLeft).as("more than the chunk").isNotNegative();
                    }
                    content.release();
                } else if (o instanceof SmtpFrameDecoder.EndOfData end) {
                    assertThat(inData).isTrue();
                    assertThat(end.bareLineFeeds()).isNotNegative();
                    inData = false;
                } else if (o == SmtpFrameDecoder.CHUNK_END) {
                    assertThat(inChunk).isTrue();
                    if (!discarding) {
                        assertThat(chunkLeft).isZero();
                    }
                    inChunk = false;
                } else {
                    assertThat(o).isSameAs(SmtpFrameDecoder.LINE_TOO_LONG);
                }
            }
        }
        channel.finishAndReleaseAll();
    }
}
