package net.mailrelay.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A second independent DKIM verifier: OpenDKIM (Debian's {@code opendkim}; .ci/run installs it) in its
 * test mode, {@code opendkim -x CONF -t FILE} with {@code Mode v} and the public keys from a
 * {@code TestPublicKeys} file instead of DNS. It reports on the first signature only, so each
 * signature is checked in a copy of the message that carries it alone (the relay's signatures do not
 * sign one another).
 */
public final class OpenDkim {

    public static final Path OPENDKIM = Path.of("/usr/sbin/opendkim");

    private OpenDkim() {
    }

    /**
     * One word per DKIM-Signature in the message, top first: "pass" or "fail" as OpenDKIM judges it;
     * joined by spaces, "none" when there is no signature. The keys are zone lines as {@code dkim keygen}
     * prints them.
     */
    public static String verify(byte[] message, List<String> zoneLines) throws IOException, InterruptedException {
        assertThat(OPENDKIM).as("Debian's opendkim (.ci/run installs it)").exists();
        Path dir = Files.createTempDirectory("opendkim");
        try {
            StringBuilder keys = new StringBuilder();
            for (String line : zoneLines) {
                ZoneTxt txt = ZoneTxt.parse(line);
                keys.append(txt.relativeName()).append(' ').append(txt.text()).append('\n');
            }
            Files.writeString(dir.resolve("keys"), keys);
            Files.writeString(dir.resolve("conf"), "Mode v\nSyslog no\nTestPublicKeys " + dir.resolve("keys") + "\n");
            List<int[]> fields = signatureFields(message);
            if (fields.isEmpty()) {
                return "none";
            }
            List<String> words = new ArrayList<>();
            for (int i = 0; i < fields.size(); i++) {
                words.add(one(dir, without(message, fields, i)));
            }
            return String.join(" ", words);
        } finally {
            try (var files = Files.list(dir)) {
                for (Path p : files.toList()) {
                    Files.delete(p);
                }
            }
            Files.delete(dir);
        }
    }

    private static String one(Path dir, byte[] message) throws IOException, InterruptedException {
        Path file = dir.resolve("message.eml");
        Files.write(file, message);
        Process p = new ProcessBuilder(OPENDKIM.toString(), "-x", dir.resolve("conf").toString(), "-t", file.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        if (out.contains(") succeeded")) {
            return "pass";
        }
        assertThat(out).as("opendkim's verdict").contains(") failed");
        return "fail";
    }

    /** Start and end (after its line break) of each DKIM-Signature field of the header block. */
    private static List<int[]> signatureFields(byte[] m) {
        List<int[]> out = new ArrayList<>();
        int i = 0;
        int start = -1;
        while (i < m.length) {
            int lf = i;
            while (lf < m.length && m[lf] != '\n') {
                lf++;
            }
            int next = Math.min(m.length, lf + 1);
            boolean empty = lf == i || (lf == i + 1 && m[i] == '\r');
            boolean folded = !empty && (m[i] == ' ' || m[i] == '\t');
            if (start >= 0 && !folded) {
                out.add(new int[] {start, i});
                start = -1;
            }
            if (empty) {
                break;
            }
            if (!folded && new String(m, i, Math.min(15, lf - i), StandardCharsets.ISO_8859_1).equalsIgnoreCase("dkim-signature:")) {
                start = i;
            }
            i = next;
        }
        if (start >= 0) {
            out.add(new int[] {start, i});
        }
        return out;
    }

    /** The message with every signature field but the {@code keep}-th taken out. */
    private static byte[] without(byte[] m, List<int[]> fields, int keep) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(m.length);
        int at = 0;
        for (int k = 0; k < fields.size(); k++) {
            if (k == keep) {
                continue;
            }
            out.write(m, at, fields.get(k)[0] - at);
            at = fields.get(k)[1];
        }
        out.write(m, at, m.length - at);
        return out.toByteArray();
    }
}
