package net.mailrelay.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * Drops every packet a local server sends from its port (an nftables rule on the output hook, which
 * loopback traffic passes), until closed: requests reach the server and are acted on, and the answers
 * never come back, as when a broker's replies are lost or it freezes right after reading a request. TCP
 * sends them again once the rule is gone. Needs root and {@code nft}; where they are missing the test is
 * skipped, and with {@code CI=true} (CI runs as root, with nft installed by .ci/run) it fails.
 */
public final class RepliesDropped implements AutoCloseable {

    private final String table = "mailrelay_test_" + UUID.randomUUID().toString().substring(0, 8);

    public RepliesDropped(int serverPort) {
        try {
            nft("add", "table", "inet", table);
        } catch (IllegalStateException e) {
            if ("true".equals(System.getenv("CI"))) {
                throw e;
            }
            Assumptions.abort("cannot drop a server's replies here (needs root and nft): " + e.getMessage());
        }
        try {
            nft("add", "chain", "inet", table, "out", "{ type filter hook output priority 0 ; }");
            nft("add", "rule", "inet", table, "out", "tcp", "sport", Integer.toString(serverPort), "drop");
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** The port of a {@code host:port} bootstrap list's first entry. */
    public static int portOf(String hostPort) {
        String first = hostPort.split(",")[0].trim();
        return Integer.parseInt(first.substring(first.lastIndexOf(':') + 1));
    }

    @Override
    public void close() {
        try {
            nft("delete", "table", "inet", table);
        } catch (RuntimeException e) {
            // Already gone, or never made.
        }
    }

    private static void nft(String... args) {
        List<String> command = new java.util.ArrayList<>(List.of("nft"));
        command.addAll(List.of(args));
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IllegalStateException(String.join(" ", command) + ": " + out.strip());
            }
        } catch (IOException e) {
            throw new IllegalStateException("nft: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
