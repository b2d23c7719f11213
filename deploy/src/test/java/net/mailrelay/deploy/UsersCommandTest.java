package net.mailrelay.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import net.mailrelay.edge.auth.CredentialStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class UsersCommandTest {

    static final String PASSWORD = "Tr0ub4dor&3-swordfish";

    @TempDir
    Path dir;

    record Run(int exit, String out, String err) {
    }

    /** Runs the command with this standard input and no terminal. */
    static Run run(String stdin, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        UsersCommand command = new UsersCommand(new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)), null);
        int exit = new CommandLine(command).setOut(new PrintWriter(out, true)).setErr(new PrintWriter(err, true)).execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    @Test
    void addReadsThePasswordFromTheFirstLineOfStandardInput() throws Exception {
        Path file = dir.resolve("users");
        Run r = run(PASSWORD + "\r\nsecond line is not read\n", "add", "alice", "--file", file.toString(), "--password-stdin");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).isEqualTo("added alice" + System.lineSeparator());
        CredentialStore store = CredentialStore.load(file);
        assertThat(store.verify("alice", PASSWORD.toCharArray())).isTrue();
        assertThat(store.verify("alice", (PASSWORD + "\r").toCharArray())).isFalse();
        assertNoSecrets(r, file);

        Run again = run("another password", "add", "alice", "--file", file.toString(), "--password-stdin");
        assertThat(again.exit()).isZero();
        assertThat(again.out()).contains("changed the password of alice");
        assertThat(CredentialStore.load(file).verify("alice", "another password".toCharArray())).isTrue();
    }

    @Test
    void listPrintsTheNamesAndRemoveDropsOne() throws Exception {
        Path file = dir.resolve("users");
        Files.writeString(file, "# users\n");
        assertThat(run(PASSWORD, "add", "alice", "--file", file.toString(), "--password-stdin").exit()).isZero();
        assertThat(run(PASSWORD, "add", "bob@example.org", "--file", file.toString(), "--password-stdin").exit()).isZero();

        Run list = run("", "list", "--file", file.toString());
        assertThat(list.exit()).isZero();
        assertThat(list.out().lines()).containsExactly("alice", "bob@example.org");
        assertNoSecrets(list, file);

        Run remove = run("", "remove", "alice", "--file", file.toString());
        assertThat(remove.exit()).isZero();
        assertThat(remove.out()).contains("removed alice");
        assertThat(run("", "list", "--file", file.toString()).out().lines()).containsExactly("bob@example.org");
        assertThat(Files.readString(file)).startsWith("# users\nbob@example.org:$2y$");
    }

    @Test
    void removingAMissingUserExits1() throws Exception {
        Path file = dir.resolve("users");
        run(PASSWORD, "add", "alice", "--file", file.toString(), "--password-stdin");
        Run r = run("", "remove", "bob", "--file", file.toString());
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err().lines()).containsExactly("mail-relay users: no user bob in " + file);
        assertThat(CredentialStore.load(file).users()).containsExactly("alice");
    }

    @Test
    void withoutATerminalAddAsksForPasswordStdin() {
        Path file = dir.resolve("users");
        Run r = run(PASSWORD + "\n", "add", "alice", "--file", file.toString());
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err().lines()).singleElement().asString().contains("--password-stdin");
        assertThat(file).doesNotExist();
    }

    @Test
    void anEmptyPasswordIsRefused() {
        Path file = dir.resolve("users");
        for (String stdin : new String[] {"", "\n", "\r\n"}) {
            Run r = run(stdin, "add", "alice", "--file", file.toString(), "--password-stdin");
            assertThat(r.exit()).isEqualTo(2);
            assertThat(r.err()).contains("empty password");
        }
        assertThat(file).doesNotExist();
    }

    @Test
    void noOptionTakesAPasswordAsAnArgument() {
        Path file = dir.resolve("users");
        Run r = run("", "add", "alice", "--file", file.toString(), "--password", PASSWORD);
        assertThat(r.exit()).isEqualTo(2);
        assertThat(file).doesNotExist();
        CommandLine add = new CommandLine(new UsersCommand()).getSubcommands().get("add");
        assertThat(add.getCommandSpec().options().stream().filter(o -> o.arity().max() > 0).map(o -> o.longestName()))
                .containsExactly("--file");
    }

    @Test
    void errorsAreOneLineOnStandardErrorWithExit2() throws Exception {
        Path malformed = dir.resolve("broken");
        Files.writeString(malformed, "# ok\nthis is not a user line\n");
        Run r = run(PASSWORD, "add", "alice", "--file", malformed.toString(), "--password-stdin");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err().lines()).singleElement().asString().startsWith("mail-relay users: ").contains(":2: ");
        assertNoSecrets(r, malformed);

        Run missing = run("", "list", "--file", dir.resolve("nope").toString());
        assertThat(missing.exit()).isEqualTo(2);
        assertThat(missing.err().lines()).containsExactly("mail-relay users: no such file: " + dir.resolve("nope"));

        Run badName = run(PASSWORD, "add", "al ice", "--file", dir.resolve("users").toString(), "--password-stdin");
        assertThat(badName.exit()).isEqualTo(2);
        assertThat(badName.err().lines()).hasSize(1);

        assertThat(run("", "list").exit()).isEqualTo(2); // --file is required
    }

    @Test
    void aPasswordBeyond72BytesIsAcceptedWithANote() throws Exception {
        Path file = dir.resolve("users");
        String longPassword = "x".repeat(80);
        Run r = run(longPassword + "\n", "add", "alice", "--file", file.toString(), "--password-stdin");
        assertThat(r.exit()).isZero();
        assertThat(r.err()).contains("first 72 bytes");
        assertThat(r.err() + r.out()).doesNotContain(longPassword.substring(0, 72));
    }

    private void assertNoSecrets(Run r, Path file) throws Exception {
        String printed = r.out() + r.err();
        assertThat(printed).doesNotContain(PASSWORD).doesNotContain("$2y$");
        if (Files.exists(file)) {
            for (String line : Files.readAllLines(file)) {
                int colon = line.indexOf(':');
                if (colon > 0 && !line.startsWith("#")) {
                    assertThat(printed).doesNotContain(line.substring(colon + 1));
                }
            }
        }
    }
}
