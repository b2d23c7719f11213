package net.mailrelay.deploy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code mail-relay secret generate --file F}: 256 random bits, as 64 hex digits, in a new file of mode
 * 0600. For {@code hazelcast.secret-file} (the workers' seal key) and {@code hazelcast.cluster-name-file}
 * (what every edge and worker joins with); make one file for each, never the same. It never overwrites a
 * file: a changed seal key makes every mark in the ledger unreadable.
 *
 * <p>Exit codes: 0 done, 2 bad usage, a file already there, or an I/O error, with one line on standard error.
 */
@Command(name = "secret", mixinStandardHelpOptions = true,
        description = "Cluster secrets (hazelcast.secret-file, hazelcast.cluster-name-file).",
        subcommands = {SecretCommand.Generate.class})
public final class SecretCommand {

    static final int OK = 0;
    static final int FAILED = 2;
    static final int BYTES = 32;

    @Command(name = "generate", mixinStandardHelpOptions = true,
            description = "Write 256 random bits, hex, to a new file of mode 0600.")
    static final class Generate implements Callable<Integer> {
        @Spec
        CommandSpec spec;
        @Option(names = "--file", required = true, paramLabel = "FILE", description = "The file to make; it must not exist.")
        Path file;

        @Override
        public Integer call() {
            byte[] secret = new byte[BYTES];
            new SecureRandom().nextBytes(secret);
            String text = HexFormat.of().formatHex(secret) + "\n";
            try {
                try {
                    Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
                } catch (UnsupportedOperationException e) {
                    Files.createFile(file);
                }
                Files.writeString(file, text, StandardCharsets.US_ASCII);
                spec.commandLine().getErr().println("wrote 256 random bits to " + file + " (mode 0600)");
                return OK;
            } catch (FileAlreadyExistsException e) {
                return fail(file + ": already exists; a secret is never overwritten (a new seal key makes the ledger's marks "
                        + "unreadable): remove it first if that is what you want");
            } catch (IOException e) {
                return fail(file + ": " + e);
            }
        }

        private int fail(String message) {
            spec.commandLine().getErr().println("mail-relay secret: " + message);
            return FAILED;
        }
    }
}
