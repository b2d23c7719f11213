package net.mailrelay.protocol.dkim;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Random;
import java.util.Set;
import net.mailrelay.testing.Dkimpy;
import net.mailrelay.testing.OpenDkim;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 30's proof: a generated corpus of varied messages, each signed with an RSA and an Ed25519 key
 * made by {@code dkim keygen} and the relay's default signed fields, verifies with both dkimpy and
 * OpenDKIM (the records keygen printed as the keys). The corpus mixes what real mail has: multipart
 * bodies with base64 and quoted-printable parts, 8-bit bodies, long folded headers, SMTPUTF8 addresses in
 * the header, lines of 998 octets, empty bodies and bodies of empty lines, repeated fields, white space at
 * line ends. The generator is seeded, so a failure names a message that can be made again.
 */
class DkimCorpusTest {

    static final long SEED = 20261207L;
    static final int MESSAGES = 24;

    @TempDir
    Path dir;

    @Test
    void everyMessageOfTheCorpusVerifiesWithBothVerifiersAndBothAlgorithms() throws Exception {
        List<String> zone = List.of(KeyGeneration.generate(dir, "example.org", "r1", "rsa", 2048).dnsRecord(),
                KeyGeneration.generate(dir, "example.org", "e1", "ed25519", 0).dnsRecord());
        List<DkimSigner> signers = DkimKeys.load(dir, DkimKeys.Settings.defaults()).forDomain("example.org");
        assertThat(signers).hasSize(2);
        Random random = new Random(SEED);
        List<byte[]> signed = new ArrayList<>();
        List<String> names = new ArrayList<>();
        for (int n = 0; n < MESSAGES; n++) {
            byte[] message = message(random, n);
            for (DkimSigner signer : signers) {
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                out.writeBytes(signer.sign(message, 1_780_000_000L).getBytes(StandardCharsets.US_ASCII));
                out.writeBytes(message);
                signed.add(out.toByteArray());
                names.add("message " + n + " (seed " + SEED + "), " + signer.algorithm());
            }
        }
        List<String> dkimpy = Dkimpy.verifyAll(signed, zone);
        for (int i = 0; i < signed.size(); i++) {
            assertThat(dkimpy.get(i)).as("dkimpy, %s", names.get(i)).isEqualTo("pass");
            assertThat(OpenDkim.verify(signed.get(i), zone)).as("OpenDKIM, %s", names.get(i)).isEqualTo("pass");
        }
    }

    /** One message of the corpus: every fourth has an empty body; the others pick their features at random. */
    static byte[] message(Random r, int n) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        StringBuilder head = new StringBuilder();
        boolean utf8 = r.nextBoolean();
        head.append("Received: from client").append(n).append(".example.net by relay.example.org; Mon, 7 Dec 2026 10:00:00 +0000\r\n");
        if (r.nextBoolean()) {
            head.append("Received: from inner.example.net by client").append(n).append(".example.net;\r\n\tMon, 7 Dec 2026 09:59:59 +0000\r\n");
        }
        head.append(utf8 ? "From: \"J\u00f6rg \u00c4rger\" <j\u00f6rg@example.org>\r\n" : "From: Alice Example <alice@example.org>\r\n");
        int to = 1 + r.nextInt(3);
        for (int i = 0; i < to; i++) {
            head.append("To: ").append(utf8 && i == 0 ? "\u7528\u6237@example.net" : "rcpt" + i + "@example.net").append("\r\n");
        }
        if (r.nextBoolean()) {
            head.append("Cc: ");
            int cc = 5 + r.nextInt(20);
            for (int i = 0; i < cc; i++) {
                head.append(i == 0 ? "" : ",\r\n\t").append("Person ").append(i).append(" <p").append(i).append("@example.com>");
            }
            head.append("\r\n");
        }
        head.append("Subject: ");
        int folds = r.nextInt(12);
        for (int i = 0; i <= folds; i++) {
            head.append(i == 0 ? "" : r.nextBoolean() ? "\r\n " : "\r\n\t").append("part").append(i).append(r.nextBoolean() ? "  \t " : " ")
                    .append(utf8 ? "=?UTF-8?B?" + Base64.getEncoder().encodeToString("\u00e9t\u00e9".getBytes(StandardCharsets.UTF_8)) + "?=" : "word");
        }
        head.append(r.nextBoolean() ? " \t\r\n" : "\r\n");
        head.append("Date: Mon, 7 Dec 2026 10:00:").append(String.format("%02d", n % 60)).append(" +0000\r\n");
        head.append("Message-ID: <corpus-").append(n).append("@example.org>\r\n");
        head.append("X-Unsigned:  kept as is \t\r\n");
        boolean multipart = n % 4 != 0 && r.nextBoolean();
        if (multipart) {
            head.append("MIME-Version: 1.0\r\nContent-Type: multipart/alternative;\r\n\tboundary=\"b").append(n).append("\"\r\n");
        } else if (n % 4 != 0) {
            head.append("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n");
        }
        out.writeBytes(head.append("\r\n").toString().getBytes(StandardCharsets.UTF_8));
        if (n % 4 == 0) {
            // An empty body, or one of empty lines only: both canonicalize to nothing.
            out.writeBytes("\r\n".repeat(n % 8 == 0 ? 0 : 3).getBytes(StandardCharsets.US_ASCII));
            return out.toByteArray();
        }
        if (multipart) {
            String b = "b" + n;
            out.writeBytes(("This is a multi-part message.\r\n\r\n--" + b + "\r\nContent-Type: text/plain; charset=utf-8\r\n"
                    + "Content-Transfer-Encoding: quoted-printable\r\n\r\nS=C3=A9t=C3=A9, a soft=\r\nline break  \r\n\r\n--" + b
                    + "\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            byte[] blob = new byte[200 + r.nextInt(2000)];
            r.nextBytes(blob);
            out.writeBytes(Base64.getMimeEncoder().encode(blob));
            out.writeBytes(("\r\n--" + b + "--\r\n").getBytes(StandardCharsets.US_ASCII));
        } else {
            List<String> lines = new ArrayList<>();
            lines.add("Gr\u00fc\u00dfe aus K\u00f6ln,  with  runs \t of  white space \t ");
            lines.add("");
            lines.add("x".repeat(998)); // the longest line SMTP allows
            lines.add("\t leading white space");
            lines.add(".a line that starts with a dot");
            for (int i = r.nextInt(40); i > 0; i--) {
                lines.add("line " + i + " " + "y".repeat(r.nextInt(120)) + (r.nextBoolean() ? " " : ""));
            }
            for (String line : lines) {
                out.writeBytes(line.getBytes(StandardCharsets.UTF_8));
                out.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
            }
            if (r.nextBoolean()) {
                out.writeBytes("\r\n\r\n \r\n".getBytes(StandardCharsets.US_ASCII)); // trailing empty lines
            }
        }
        return out.toByteArray();
    }

    /** The generator makes what it promises, so that the corpus cannot quietly shrink to easy cases. */
    @Test
    void theCorpusHasEveryFeature() {
        Random random = new Random(SEED);
        List<String> corpus = new ArrayList<>();
        for (int n = 0; n < MESSAGES; n++) {
            corpus.add(new String(message(random, n), StandardCharsets.UTF_8));
        }
        assertThat(corpus).anyMatch(m -> m.contains("multipart/alternative")).anyMatch(m -> m.contains("j\u00f6rg@example.org"))
                .anyMatch(m -> m.contains("x".repeat(998) + "\r\n")).anyMatch(m -> m.endsWith("\r\n\r\n") && m.indexOf("\r\n\r\n") == m.length() - 4)
                .anyMatch(m -> m.contains("Received: from inner")).anyMatch(m -> m.split("\r\nTo: ").length > 2)
                .anyMatch(m -> m.contains("Cc: ")).anyMatch(m -> m.contains("8bit"))
                .anyMatch(m -> m.indexOf("Subject: ") >= 0 && m.substring(m.indexOf("Subject: "), m.indexOf("\r\nDate:")).split("\r\n").length > 6);
        assertThat(Set.copyOf(corpus)).hasSize(MESSAGES);
    }
}
