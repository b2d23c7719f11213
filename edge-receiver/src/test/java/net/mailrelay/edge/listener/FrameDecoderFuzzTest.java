package net.mailrelay.edge.listener;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.Locale;

/**
 * Coverage-guided fuzz target (Jazzer) for the edge's framing of client bytes: commands, DATA content
 * (dot-unstuffing, the end-of-data line, bare CR and LF) and BDAT chunks, arriving in pieces of any size.
 * A handler behind the decoder switches it to DATA or BDAT the moment it sees the command, inside the
 * pipeline, as the connection handler does. Commands never exceed the line limit or hold a line feed,
 * content only comes in DATA or BDAT, a chunk is never longer than announced, and every buffer is
 * released.
 */
class FrameDecoderFuzzTest {

    @FuzzTest
    void clientBytes(FuzzedDataProvider data) {
        int maxLine = data.consumeInt(8, 1000);
        SmtpFrameDecoder decoder = new SmtpFrameDecoder(maxLine, data.consumeBoolean());
        Model model = new Model(decoder, maxLine, data);
        EmbeddedChannel channel = new EmbeddedChannel(decoder, model);
        for (int round = 0; round < 50 && data.remainingBytes() > 0; round++) {
            channel.writeInbound(Unpooled.wrappedBuffer(data.consumeBytes(data.consumeInt(1, 300))));
        }
        channel.finishAndReleaseAll();
    }

    /** What the connection handler does with each frame, with the checks. */
    static final class Model extends ChannelInboundHandlerAdapter {
        private final SmtpFrameDecoder decoder;
        private final int maxLine;
        private final FuzzedDataProvider data;
        private boolean inData;
        private boolean inChunk;
        private boolean discarding;
        private long chunkLeft;

        Model(SmtpFrameDecoder decoder, int maxLine, FuzzedDataProvider data) {
            this.decoder = decoder;
            this.maxLine = maxLine;
            this.data = data;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object o) {
            if (o instanceof String line) {
                assertThat(inData || inChunk).as("a command while reading content").isFalse();
                assertThat(line).doesNotContain("\n");
                assertThat(line.length()).isLessThanOrEqualTo(maxLine);
                String upper = line.toUpperCase(Locale.ROOT);
                if (upper.equals("DATA")) {
                    decoder.startData();
                    inData = true;
                } else if (upper.startsWith("BDAT ") && data.consumeBoolean()) {
                    chunkLeft = data.consumeLong(1, 400);
                    discarding = data.consumeBoolean();
                    inChunk = true;
                    decoder.startChunk(chunkLeft, discarding);
                }
            } else if (o instanceof ByteBuf content) {
                try {
                    assertThat(inData || inChunk && !discarding).as("content outside DATA or BDAT").isTrue();
                    if (inChunk) {
                        chunkLeft -= content.readableBytes();
                        assertThat(chunkLeft).as("more than the chunk").isNotNegative();
                    }
                } finally {
                    content.release();
                }
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
}
