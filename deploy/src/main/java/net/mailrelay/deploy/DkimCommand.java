package net.mailrelay.deploy;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import net.mailrelay.protocol.dkim.DkimKeyException;
import net.mailrelay.protocol.dkim.DkimKeys;
import net.mailrelay.protocol.dkim.KeyGeneration;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code mail-relay dkim keygen}: makes a DKIM key where {@code dkim.key-dir} reads it
 * ({@code DIR/DOMAIN/SELECTOR.pem}, PKCS#8, mode 0600) and prints the TXT record to publish. It never
 * overwrites a key: a new key takes a new selector, so that the old one keeps verifying mail in flight
 * (docs/deliverability.md, key rotation). {@code mail-relay dkim show} reads the directory as the relay
 * does at start and prints the record of every key in it, computed from the key itself.
 *
 * <p>Exit codes: 0 done, 2 bad usage, a key already there or unusable, or an I/O error, with one line on
 * standard error.
 */
@Command(name = "dkim", mixinStandardHelpOptions = true, description = "DKIM signing keys (dkim.key-dir).",
        subcommands = {DkimCommand.Keygen.class, DkimCommand.Show.class})
public final class DkimCommand {

    static final int OK = 0;
    static final int FAILED = 2;

    @Command(name = "keygen", mixinStandardHelpOptions = true,
            description = "Make a signing key for a domain and print the DNS record to publish.")
    static final class Keygen implements Callable<Integer> {
        @Spec
        CommandSpec spec;
        @Option(names = "--domain", required = true, paramLabel = "DOMAIN", description = "The From domain the key signs for.")
        String domain;
        @Option(names = "--selector", required = true, paramLabel = "SELECTOR", description = "The selector (s=), such as 2026a.")
        String selector;
        @Option(names = "--algorithm", defaultValue = "rsa", paramLabel = "rsa|ed25519",
                description = "rsa (RSA-SHA256, read by every verifier) or ed25519 (RFC 8463, to sign beside an RSA key). Default: ${DEFAULT-VALUE}.")
        String algorithm;
        @Option(names = "--bits", defaultValue = "2048", paramLabel = "BITS", description = "RSA key size, 1024 to 4096. Default: ${DEFAULT-VALUE}.")
        int bits;
        @Option(names = "--dir", required = true, paramLabel = "DIR", description = "The key directory (dkim.key-dir).")
        Path dir;

        @Override
        public Integer call() {
            try {
                KeyGeneration.Generated g = KeyGeneration.generate(dir, domain, selector, algorithm, bits);
                spec.commandLine().getErr().println("wrote " + g.keyFile() + "; publish this record, then run queue reload-dkim or restart the relay:");
                spec.commandLine().getOut().println(g.dnsRecord());
                return OK;
            } catch (IllegalArgumentException e) {
                return fail(e.getMessage());
            } catch (FileAlreadyExistsException e) {
                return fail(e.getFile() + ": " + e.getReason());
            } catch (IOException e) {
                return fail(e.getMessage() == null ? e.getClass().getSimpleName() : e.toString());
            }
        }

        private int fail(String message) {
            spec.commandLine().getErr().println("mail-relay dkim: " + message.replace('\n', ' '));
            return FAILED;
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true,
            description = "Check every key in the directory as the relay does at start, and print the DNS record of each.")
    static final class Show implements Callable<Integer> {
        @Spec
        CommandSpec spec;
        @Option(names = "--dir", required = true, paramLabel = "DIR", description = "The key directory (dkim.key-dir).")
        Path dir;

        @Override
        public Integer call() {
            try {
                DkimKeys keys = DkimKeys.load(dir, DkimKeys.Settings.defaults());
                List<String> records = keys.records();
                if (records.isEmpty()) {
                    spec.commandLine().getErr().println("no keys under " + dir + " (DOMAIN/SELECTOR.pem); mail is not signed");
                }
                records.forEach(spec.commandLine().getOut()::println);
                return OK;
            } catch (DkimKeyException e) {
                spec.commandLine().getErr().println("mail-relay dkim: " + e.getMessage().replace('\n', ' '));
                return FAILED;
            }
        }
    }
}
