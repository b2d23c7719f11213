package net.mailrelay.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Issue 30: {@code dkim show --dir DIR} reads the key directory as the relay does at start and prints
 * the record of every key, computed from the private key, so that a key copied in from elsewhere (or a
 * lost printout) can be published; a directory the relay would refuse is refused the same way.
 */
class DkimCommandTest {

    @TempDir
    Path dir;

    record Run(int exit, String out, String err) {
    }

    static Run dkim(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = new CommandLine(new DkimCommand()).setOut(new PrintWriter(out, true)).setErr(new PrintWriter(err, true))
                .execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    @Test
    void showPrintsTheRecordOfEveryKeyAsKeygenDid() {
        List<String> printed = new ArrayList<>();
        for (String[] key : new String[][] {{"b.example", "s2026", "rsa"}, {"a.example", "ed1", "ed25519"},
                {"a.example", "rsa1", "rsa"}}) {
            Run made = dkim("keygen", "--domain", key[0], "--selector", key[1], "--algorithm", key[2], "--dir", dir.toString());
            assertThat(made.exit()).isZero();
            printed.add(made.out().strip());
        }
        Run shown = dkim("show", "--dir", dir.toString());
        assertThat(shown.exit()).as(shown.err()).isZero();
        // By domain, then selector; each the very record keygen printed for it.
        assertThat(shown.out().strip().lines().toList()).containsExactly(printed.get(1), printed.get(2), printed.get(0));
    }

    @Test
    void showRefusesWhatTheRelayWouldRefuseAndNamesTheFile() throws Exception {
        Path folder = Files.createDirectories(dir.resolve("c.example"));
        Path bad = folder.resolve("sel.pem");
        Files.writeString(bad, "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n");
        Files.setPosixFilePermissions(bad, PosixFilePermissions.fromString("rw-------"));
        Run shown = dkim("show", "--dir", dir.toString());
        assertThat(shown.exit()).isEqualTo(2);
        assertThat(shown.err()).contains(bad.toString()).doesNotContain("bm90IGEga2V5");
        assertThat(shown.out()).isEmpty();

        Run empty = dkim("show", "--dir", Files.createDirectories(dir.resolve("none")).toString());
        assertThat(empty.exit()).isZero();
        assertThat(empty.err()).contains("no keys under");
    }

    /** dkim.subdomains must name domains that have keys, and needs dkim.key-dir: a typo stops the start. */
    @Test
    void subdomainsNamingADomainWithoutKeysStopTheStart(@TempDir Path dir) throws Exception {
        net.mailrelay.protocol.dkim.KeyGeneration.generate(dir, "example.org", "e1", "ed25519", 0);
        java.util.Map<String, String> ok = java.util.Map.of("dkim.key-dir", dir.toString(), "dkim.subdomains", "example.org");
        assertThat(RelayProcess.dkimKeys(net.mailrelay.deploy.config.Settings.of(ok)).forFromDomain("news.example.org"))
                .extracting(net.mailrelay.protocol.dkim.DkimSigner::domain).containsExactly("example.org");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> RelayProcess.dkimKeys(net.mailrelay.deploy.config.Settings.of(
                java.util.Map.of("dkim.key-dir", dir.toString(), "dkim.subdomains", "example.org,exmaple.org"))))
                .isInstanceOf(net.mailrelay.deploy.config.ConfigException.class).hasMessageContaining("dkim.subdomains")
                .hasMessageContaining("exmaple.org").hasMessageContaining("no key");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> RelayProcess.dkimKeys(net.mailrelay.deploy.config.Settings.of(
                java.util.Map.of("dkim.subdomains", "example.org"))))
                .isInstanceOf(net.mailrelay.deploy.config.ConfigException.class).hasMessageContaining("dkim.key-dir");
    }
}
