package net.mailrelay.edge.auth;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Edits a users file (format in {@link CredentialStore}) for the {@code users} command. Every edit reads
 * the whole file, refuses to touch it if any line is malformed, changes only the user's own line and
 * replaces the file atomically, so a role reading it at start sees the old file or the new one, never half.
 *
 * <p>Two edits running at the same moment can lose one of them (last rename wins); the file is edited
 * by an operator, not by the relay.
 */
public final class UsersFile {

    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");

    private UsersFile() {
    }

    /**
     * Throws {@link IllegalArgumentException} unless the name can be a user of the file: 1 to 256 characters,
     * no ':', whitespace or control characters. Lets a command check the name before asking for a password.
     */
    public static void requireValidUserName(String user) {
        UsersFileFormat.requireValidUserName(user);
    }

    /**
     * Sets the user's password, replacing the user's line in place or appending one, and creates the file
     * (mode 0600) if there is none. Returns whether the user existed. The caller keeps the password array.
     */
    public static boolean add(Path file, String user, char[] password) throws IOException {
        UsersFileFormat.requireValidUserName(user);
        if (password.length == 0) {
            throw new IllegalArgumentException("empty password");
        }
        Path target = resolve(file);
        boolean exists = Files.exists(target);
        List<UsersFileFormat.Line> lines = new ArrayList<>(exists ? UsersFileFormat.read(target) : List.of());
        UsersFileFormat.Line line = UsersFileFormat.userLine(user, Bcrypt.hash(password));
        boolean replaced = false;
        for (int i = 0; i < lines.size(); i++) {
            if (user.equals(lines.get(i).user())) {
                lines.set(i, line);
                replaced = true;
            }
        }
        if (!replaced) {
            lines.add(line);
        }
        write(target, lines, exists);
        return replaced;
    }

    /** Removes the user's line; returns false, leaving the file as it was, if there is none. */
    public static boolean remove(Path file, String user) throws IOException {
        Path target = resolve(file);
        List<UsersFileFormat.Line> lines = new ArrayList<>(UsersFileFormat.read(target));
        if (!lines.removeIf(l -> user.equals(l.user()))) {
            return false;
        }
        write(target, lines, true);
        return true;
    }

    /** The user names in file order. */
    public static List<String> list(Path file) throws IOException {
        return UsersFileFormat.read(resolve(file)).stream()
                .filter(UsersFileFormat.Line::isUser)
                .map(UsersFileFormat.Line::user)
                .toList();
    }

    /** Edits go through a symbolic link to its target instead of replacing the link with a file. */
    private static Path resolve(Path file) throws IOException {
        return Files.exists(file) ? file.toRealPath() : file.toAbsolutePath();
    }

    /**
     * Writes a temporary file beside the target, flushes it to disk and renames it over the target. The
     * temporary file is private from its creation; it gets the target's permissions just before the
     * rename, so an operator's chosen mode (e.g. 0640 for a service group) survives edits.
     */
    private static void write(Path file, List<UsersFileFormat.Line> lines, boolean exists) throws IOException {
        Path dir = file.getParent();
        boolean posix = dir.getFileSystem().supportedFileAttributeViews().contains("posix");
        Path tmp = posix
                ? Files.createTempFile(dir, "." + file.getFileName(), ".tmp", PosixFilePermissions.asFileAttribute(OWNER_ONLY))
                : Files.createTempFile(dir, "." + file.getFileName(), ".tmp");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer bytes = ByteBuffer.wrap(UsersFileFormat.render(lines));
                while (bytes.hasRemaining()) {
                    ch.write(bytes);
                }
                ch.force(true);
            }
            if (posix) {
                Files.setPosixFilePermissions(tmp, exists ? Files.getPosixFilePermissions(file) : OWNER_ONLY);
            }
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
    }
}
