package net.mailrelay.deploy;

import java.io.Console;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;
import net.mailrelay.edge.auth.CredentialStore;
import net.mailrelay.edge.auth.UsersFile;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * mail-relay.jar users: edits the SMTP AUTH users file that roles read with {@code --users-file} (format in
 * {@link CredentialStore}). A password comes from the terminal, typed twice without echo, or from the first
 * line of standard input with {@code --password-stdin}; never from an argument, where {@code ps} and the
 * shell history would show it. Nothing here prints a password or a hash.
 *
 * <p>Exit codes: 0 done, 1 no such user (remove), 2 bad usage, bad input or an I/O error, with one line
 * on standard error.
 */
@Command(name = "users", mixinStandardHelpOptions = true,
        description = "Manage the SMTP AUTH users file (bcrypt hashes) that roles read with --users-file.",
        subcommands = {UsersCommand.Add.class, UsersCommand.Remove.class, UsersCommand.ListUsers.class})
public final class UsersCommand {

    static final int OK = 0;
    static final int NO_SUCH_USER = 1;
    static final int FAILED = 2;

    /** Far above anything bcrypt uses; stops {@code < some-large-file} from being read into memory. */
    static final int MAX_STDIN_PASSWORD_BYTES = 1024;

    private final InputStream stdin;
    private final Console console;

    public UsersCommand() {
        this(System.in, terminal());
    }

    /** For tests: standard input, and the terminal to prompt on (null: none). */
    UsersCommand(InputStream stdin, Console console) {
        this.stdin = stdin;
        this.console = console;
    }

    @Command(name = "add", mixinStandardHelpOptions = true,
            description = "Add a user, or set the password of an existing one.")
    static final class Add implements Callable<Integer> {
        @ParentCommand
        UsersCommand users;
        @Spec
        CommandSpec spec;
        @Parameters(paramLabel = "USER", description = "User name as the client sends it in AUTH.")
        String user;
        @Option(names = "--file", required = true, paramLabel = "FILE", description = "The users file; created (mode 0600) if missing.")
        Path file;
        @Option(names = "--password-stdin", description = "Read the password from the first line of standard input instead of the terminal.")
        boolean passwordStdin;

        @Override
        public Integer call() {
            char[] password = null;
            try {
                UsersFile.requireValidUserName(user);
                password = passwordStdin ? firstLine(users.stdin) : prompt(users.console, user);
                if (password.length == 0) {
                    throw new Refused("empty password refused");
                }
                if (utf8Length(password) > CredentialStore.MAX_PASSWORD_BYTES) {
                    spec.commandLine().getErr().println("mail-relay users: note: only the first "
                            + CredentialStore.MAX_PASSWORD_BYTES + " bytes of the password count (bcrypt)");
                }
                boolean replaced = UsersFile.add(file, user, password);
                spec.commandLine().getOut().println((replaced ? "changed the password of " : "added ") + user);
                return OK;
            } catch (Refused | IllegalArgumentException e) {
                return fail(spec, e.getMessage());
            } catch (IOException e) {
                return fail(spec, describe(e));
            } finally {
                if (password != null) {
                    Arrays.fill(password, '\0');
                }
            }
        }
    }

    @Command(name = "remove", mixinStandardHelpOptions = true, description = "Remove a user.")
    static final class Remove implements Callable<Integer> {
        @Spec
        CommandSpec spec;
        @Parameters(paramLabel = "USER")
        String user;
        @Option(names = "--file", required = true, paramLabel = "FILE", description = "The users file.")
        Path file;

        @Override
        public Integer call() {
            try {
                if (!UsersFile.remove(file, user)) {
                    spec.commandLine().getErr().println("mail-relay users: no user " + user + " in " + file);
                    return NO_SUCH_USER;
                }
                spec.commandLine().getOut().println("removed " + user);
                return OK;
            } catch (IOException e) {
                return fail(spec, describe(e));
            }
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Print the user names, one per line.")
    static final class ListUsers implements Callable<Integer> {
        @Spec
        CommandSpec spec;
        @Option(names = "--file", required = true, paramLabel = "FILE", description = "The users file.")
        Path file;

        @Override
        public Integer call() {
            try {
                PrintWriter out = spec.commandLine().getOut();
                UsersFile.list(file).forEach(out::println);
                out.flush();
                return OK;
            } catch (IOException e) {
                return fail(spec, describe(e));
            }
        }
    }

    /** Input the command will not use; the message is safe to print. */
    static final class Refused extends Exception {
        Refused(String message) {
            super(message);
        }
    }

    /**
     * The first line of the stream without its CR/LF, decoded as UTF-8 into an array this method's caller
     * owns and zeroes. Reads byte by byte so that nothing after the line is consumed or left in a buffer.
     */
    static char[] firstLine(InputStream in) throws IOException, Refused {
        byte[] bytes = new byte[MAX_STDIN_PASSWORD_BYTES];
        int n = 0;
        CharBuffer chars = null;
        try {
            for (int b = in.read(); b != -1 && b != '\n'; b = in.read()) {
                if (n == bytes.length) {
                    throw new Refused("password on standard input is longer than " + MAX_STDIN_PASSWORD_BYTES + " bytes");
                }
                bytes[n++] = (byte) b;
            }
            if (n > 0 && bytes[n - 1] == '\r') {
                n--;
            }
            chars = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes, 0, n));
            char[] password = new char[chars.remaining()];
            chars.get(password);
            return password;
        } catch (CharacterCodingException e) {
            throw new Refused("password on standard input is not UTF-8");
        } finally {
            Arrays.fill(bytes, (byte) 0);
            if (chars != null && chars.hasArray()) {
                Arrays.fill(chars.array(), '\0');
            }
        }
    }

    private static char[] prompt(Console console, String user) throws Refused {
        if (console == null) {
            throw new Refused("no terminal to read the password from; use --password-stdin");
        }
        char[] first = console.readPassword("Password for %s: ", user);
        char[] second = null;
        try {
            if (first == null) {
                throw new Refused("no password given");
            }
            second = console.readPassword("Repeat the password: ");
            if (!Arrays.equals(first, second)) {
                throw new Refused("the passwords do not match");
            }
            char[] password = first;
            first = null;
            return password;
        } finally {
            if (first != null) {
                Arrays.fill(first, '\0');
            }
            if (second != null) {
                Arrays.fill(second, '\0');
            }
        }
    }

    /**
     * Since Java 22 {@code System.console()} returns a console even when input is a pipe; only a real
     * terminal keeps a typed password off the screen. {@code Console.isTerminal()} is called reflectively
     * because the code is compiled for Java 17, where it does not exist (and a console is always a terminal).
     */
    private static Console terminal() {
        Console console = System.console();
        if (console == null) {
            return null;
        }
        try {
            return (Boolean) Console.class.getMethod("isTerminal").invoke(console) ? console : null;
        } catch (ReflectiveOperationException e) {
            return console;
        }
    }

    private static int utf8Length(char[] password) {
        int bytes = 0;
        for (int i = 0; i < password.length; i++) {
            char c = password[i];
            if (c < 0x80) {
                bytes += 1;
            } else if (c < 0x800) {
                bytes += 2;
            } else if (Character.isHighSurrogate(c) && i + 1 < password.length && Character.isLowSurrogate(password[i + 1])) {
                bytes += 4;
                i++;
            } else {
                bytes += 3;
            }
        }
        return bytes;
    }

    private static String describe(IOException e) {
        if (e instanceof NoSuchFileException f) {
            return "no such file: " + f.getFile();
        }
        if (e instanceof AccessDeniedException f) {
            return "permission denied: " + f.getFile();
        }
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }

    private static int fail(CommandSpec spec, String message) {
        spec.commandLine().getErr().println("mail-relay users: " + message.replace('\n', ' '));
        return FAILED;
    }
}
