package net.mailrelay.edge.listener;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import net.mailrelay.testing.RandomInputs;
import org.junit.jupiter.api.Test;

class SmtpFrameDecoderTest {

    private final SmtpFrameDecoder decoder = new SmtpFrameDecoder(64, false);
    private final EmbeddedChannel channel = new EmbeddedChannel(decoder);

    private List<Object> feed(String... parts) {
        for (String p : parts) {
            channel.writeInbound(Unpooled.copiedBuffer(p, StandardCharsets.ISO_8859_1));
        }
        List<Object> out = new ArrayList<>();
        Object o;
        while ((o = channel.readInbound()) != null) {
            out.add(o);
        }
        return out;
    }

    /** Feeds content in data mode; returns the content and whether the end of data was seen. */
    private String data(String... parts) {
        decoder.startData();
        ByteArrayOutputStream content = new ByteArrayOutputStream();
        boolean ended = false;
        for (Object o : feed(parts)) {
            if (o instanceof ByteBuf b) {
                assertThat(ended).as("content after end of data").isFalse();
                byte[] bytes = new byte[b.readableBytes()];
                b.readBytes(bytes);
                b.release();
                content.writeBytes(bytes);
            } else if (o instanceof SmtpFrameDecoder.EndOfData) {
                ended = true;
            } else {
                return content.toString(StandardCharsets.ISO_8859_1) + "|then command " + o;
            }
        }
        return content.toString(StandardCharsets.ISO_8859_1) + (ended ? "|END" : "|OPEN");
    }

    @Test
    void framesCommandLinesWithCrLfOrBareLf() {
        assertThat(feed("EHLO a\r\nMAIL FROM:<x@y>\nNOOP")).containsExactly("EHLO a", "MAIL FROM:<x@y>");
        assertThat(feed("\r\n")).containsExactly("NOOP");
    }

    @Test
    void dropsOverlongLinesAndStaysInStep() {
        assertThat(feed("NOOP " + "x".repeat(100), "y".repeat(100), "\r\nQUIT\r\n"))
                .containsExactly(SmtpFrameDecoder.LINE_TOO_LONG, "QUIT");
        assertThat(feed("NOOP " + "x".repeat(70) + "\r\nRSET\r\n")).containsExactly(SmtpFrameDecoder.LINE_TOO_LONG, "RSET");
    }

    @Test
    void endsDataAtCrLfDotCrLfAndUndoesDotStuffing() {
        assertThat(data("Subject: a\r\n\r\n..leading dot\r\n.\r\n")).isEqualTo("Subject: a\r\n\r\n.leading dot\r\n|END");
        assertThat(feed("QUIT\r\n")).containsExactly("QUIT");
    }

    @Test
    void findsTheEndAcrossReadBoundaries() {
        assertThat(data("line one\r", "\n.", "\r", "\nafter")).isEqualTo("line one\r\n|END");
        assertThat(feed("\r\n")).containsExactly("after");
    }

    @Test
    void anEmptyMessageIsJustTheTerminator() {
        assertThat(data(".\r\n")).isEqualTo("|END");
    }

    @Test
    void smugglingTerminatorsAreContent() {
        // CVE-2023-51764 class: none of these may end the data. A bare LF still ends a line for
        // dot-stuffing, as Postfix's "normalize" mode treats it.
        assertThat(data("a\n.\nb\r\n")).isEqualTo("a\n\nb\r\n|OPEN");
        assertThat(data("a\r\n.\nb\r\n")).isEqualTo("a\r\n\nb\r\n|OPEN");
        assertThat(data("a\n.\r\nb\r\n")).isEqualTo("a\n\r\nb\r\n|OPEN");
        assertThat(data("a\r.\r\nb\r\n")).isEqualTo("a\r.\r\nb\r\n|OPEN");
    }

    @Test
    void countsBareLineFeeds() {
        decoder.startData();
        List<Object> out = feed("a\nb\r\nc\n.\r\nd\r\n.\r\n");
        SmtpFrameDecoder.EndOfData end = (SmtpFrameDecoder.EndOfData) out.get(out.size() - 1);
        assertThat(end.bareLineFeeds()).isEqualTo(2);
        out.forEach(o -> {
            if (o instanceof ByteBuf b) {
                b.release();
            }
        });
    }

    @Test
    void passesOnVeryLongLinesWithoutWaitingForTheirEnd() {
        String longLine = "z".repeat(200_000);
        decoder.startData();
        List<Object> first = feed(longLine);
        assertThat(first).isNotEmpty();
        first.forEach(o -> ((ByteBuf) o).release());
        assertThat(data("\r\n.\r\n")).isEqualTo("\r\n|END");
    }

    @Test
    void aLongLineSplitBetweenCrAndLfStillEndsCleanly() {
        decoder.startData();
        List<Object> first = feed("q".repeat(70_000) + "\r");
        first.forEach(o -> ((ByteBuf) o).release());
        assertThat(data("\n.\r\n")).isEqualTo("\r\n|END");
    }

    @Test
    void waitsWhilePausedAndResumesWithWhatArrived() throws Exception {
        decoder.pause();
        assertThat(feed("NOOP\r\nQUIT\r\n")).isEmpty();
        decoder.resume(channel.pipeline().firstContext());
        List<Object> out = new ArrayList<>();
        Object o;
        while ((o = channel.readInbound()) != null) {
            out.add(o);
        }
        assertThat(out).containsExactly("NOOP", "QUIT");
    }

    @Test
    void randomContentAlwaysRoundTripsThroughDotStuffing() {
        long seed = System.nanoTime();
        RandomInputs inputs = new RandomInputs(seed);
        for (int i = 0; i < 2_000; i++) {
            String body = inputs.next(30).chars().map(c -> c & 0xFF)
                    .collect(StringBuilder::new, StringBuilder::appendCodePoint, StringBuilder::append)
                    .toString().replace("\r", "").replace("\n", "\r\n");
            String message = body.endsWith("\r\n") || body.isEmpty() ? body : body + "\r\n";
            String stuffed = (message.startsWith(".") ? "." : "") + message.replace("\r\n.", "\r\n..");
            // Split the wire bytes at a random point to exercise partial reads.
            String wire = stuffed + ".\r\n";
            int cut = Math.abs((int) (seed + i)) % (wire.length() + 1);
            assertThat(data(wire.substring(0, cut), wire.substring(cut))).as("seed %d case %d", seed, i)
                    .isEqualTo(message + "|END");
        }
    }

    @Test
    void readsExactChunksWithoutLookingAtThem() {
        decoder.startChunk(7, false);
        List<Object> out = feed("ab\r\n.\r\nBDAT 1 LAST\r\n");
        assertThat(out).hasSize(3);
        ByteBuf chunk = (ByteBuf) out.get(0);
        assertThat(chunk.toString(StandardCharsets.US_ASCII)).isEqualTo("ab\r\n.\r\n");
        chunk.release();
        assertThat(out.get(1)).isSameAs(SmtpFrameDecoder.CHUNK_END);
        assertThat(out.get(2)).isEqualTo("BDAT 1 LAST");
    }

    @Test
    void chunksMaySpanReadsAndBeDiscarded() {
        decoder.startChunk(10, true);
        assertThat(feed("01234")).isEmpty();
        assertThat(feed("56789NOOP\r\n")).containsExactly(SmtpFrameDecoder.CHUNK_END, "NOOP");
    }

    @Test
    void normalizesBareLineFeedsWhenAskedTo() {
        SmtpFrameDecoder normalizing = new SmtpFrameDecoder(64, true);
        EmbeddedChannel ch = new EmbeddedChannel(normalizing);
        normalizing.startData();
        ch.writeInbound(Unpooled.copiedBuffer("a\nb\r\n.x\ny\r\n.\r\n", StandardCharsets.US_ASCII));
        StringBuilder content = new StringBuilder();
        Object o;
        while ((o = ch.readInbound()) != null) {
            if (o instanceof ByteBuf b) {
                content.append(b.toString(StandardCharsets.US_ASCII));
                b.release();
            } else {
                content.append("|").append(o);
            }
        }
        assertThat(content.toString()).isEqualTo("a\r\nb\r\nx\r\ny\r\n|EndOfData[bareLineFeeds=2]");
    }

    @Test
    void dropsPlaintextBufferedAfterStartTls() {
        decoder.pause();
        feed("STARTTLS\r\nMAIL FROM:<injected@evil.test>\r\n");
        decoder.discardBuffered();
        assertThat(feed()).isEmpty();
    }
}
