package net.mailrelay.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * An independent DKIM verifier: dkimpy (Debian's python3-dkim, with python3-nacl for Ed25519; .ci/run
 * installs them), run by Debian's own python3, with DNS answered from the zone lines given (as
 * {@code dkim keygen} prints them).
 */
public final class Dkimpy {

    public static final Path PYTHON = Path.of("/usr/bin/python3");

    private Dkimpy() {
    }

    /**
     * One word per DKIM-Signature in the message, top first: "pass" or "fail" as dkimpy judges it; the
     * words joined by spaces, "none" when there is no signature.
     */
    public static String verify(byte[] message, List<String> zoneLines) throws Exception {
        return verifyAll(List.of(message), zoneLines).get(0);
    }

    /**
     * {@link #verify} for each message, in one run of python (its start, with dkimpy's imports, takes
     * half a second).
     */
    public static List<String> verifyAll(List<byte[]> messages, List<String> zoneLines) throws Exception {
        assertThat(PYTHON).as("Debian's python3 with python3-dkim and python3-nacl (.ci/run installs them)").exists();
        List<String> args = new ArrayList<>(List.of(PYTHON.toString(), "-c", SCRIPT));
        for (String line : zoneLines) {
            ZoneTxt txt = ZoneTxt.parse(line);
            args.add(txt.name());
            args.add(txt.text());
        }
        Process p = new ProcessBuilder(args).redirectErrorStream(true).start();
        // One message per line, in base64: the messages' own line ends stay theirs.
        java.util.concurrent.CompletableFuture<String> read = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
                return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        try (var in = p.getOutputStream()) {
            for (byte[] m : messages) {
                in.write(java.util.Base64.getEncoder().encode(m));
                in.write('\n');
            }
        }
        String out = read.get(60, TimeUnit.SECONDS);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        List<String> results = out.lines().toList();
        assertThat(results).as("dkimpy's answers: %s", out).hasSize(messages.size());
        return results;
    }

    private static final String SCRIPT = String.join("\n",
            "import sys, dkim, base64",
            "a = sys.argv[1:]",
            "zone = {a[i].encode(): a[i + 1].encode() for i in range(0, len(a), 2)}",
            "dns = lambda name, timeout=5: zone.get(name)",
            "def one(d, i):",
            "    try:",
            "        return 'pass' if d.verify(idx=i, dnsfunc=dns) else 'fail'",
            "    except dkim.DKIMException:",
            "        return 'fail'",
            "for line in sys.stdin.buffer:",
            "    d = dkim.DKIM(base64.b64decode(line.strip()))",
            "    n = sum(1 for h in d.headers if h[0].lower() == b'dkim-signature')",
            "    print(' '.join(one(d, i) for i in range(n)) or 'none', flush=True)",
            "");
}
