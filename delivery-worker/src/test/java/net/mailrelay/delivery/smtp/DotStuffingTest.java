package net.mailrelay.delivery.smtp;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class DotStuffingTest {

    static String stuff(String s) {
        byte[] b = ("xx" + s).getBytes(StandardCharsets.ISO_8859_1);
        ByteBuf out = DotStuffing.stuff(b, 2, b.length - 2);
        try {
            return out.toString(StandardCharsets.ISO_8859_1);
        } finally {
            out.release();
        }
    }

    @Test
    void doublesLeadingDotsAndEndsWithCrLf() {
        assertThat(stuff(".a\r\nb\r\n..c\r\n.")).isEqualTo("..a\r\nb\r\n...c\r\n..\r\n");
        assertThat(stuff("no newline")).isEqualTo("no newline\r\n");
        assertThat(stuff("")).isEqualTo("\r\n");
        assertThat(stuff("a.b\r\n")).isEqualTo("a.b\r\n");
    }
}
