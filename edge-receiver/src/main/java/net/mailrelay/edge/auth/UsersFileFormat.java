package net.mailrelay.edge.auth;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads and writes the lines of a users file (format in {@link CredentialStore}). Shared by the reader that
 * roles use and the editor the {@code users} command uses, so both accept exactly the same files.
 *
 * <p>Error messages name the file and the line number and never quote the line: a line that does not
 * parse may be a password pasted in the wrong place, and the hash is a guessing target too.
 */
final class UsersFileFormat {

    static final int MAX_USER_LENGTH = 256;

    /** One line as written; {@code user} and {@code hash} are null for blank and comment lines. */
    record Line(String text, String user, String hash) {

        boolean isUser() {
            return user != null;
        }
    }

    private UsersFileFormat() {
    }

    static List<Line> read(Path file) throws IOException {
        String text;
        try {
            // Strict decoding: a stray Latin-1 byte must not silently become a different user name.
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(Files.readAllBytes(file)))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new UsersFileException(file + ": not valid UTF-8");
        }
        List<Line> lines = new ArrayList<>();
        Map<String, Integer> firstSeen = new HashMap<>();
        int number = 0;
        for (String t : text.split("\r?\n", -1)) {
            number++;
            Line line = parse(t, file, number);
            if (line.isUser()) {
                Integer earlier = firstSeen.putIfAbsent(line.user(), number);
                if (earlier != null) {
                    throw new UsersFileException(file, number, "user already listed on line " + earlier);
                }
            }
            lines.add(line);
        }
        // split leaves one empty string after the final newline; it is not a line of the file.
        if (!lines.isEmpty() && lines.get(lines.size() - 1).text().isEmpty()) {
            lines.remove(lines.size() - 1);
        }
        return lines;
    }

    static Line parse(String text, Path file, int number) throws UsersFileException {
        if (text.isBlank() || text.startsWith("#")) {
            return new Line(text, null, null);
        }
        int colon = text.indexOf(':');
        if (colon < 0) {
            throw new UsersFileException(file, number, "expected name:bcrypt-hash");
        }
        String user = text.substring(0, colon);
        try {
            requireValidUserName(user);
        } catch (IllegalArgumentException e) {
            throw new UsersFileException(file, number, e.getMessage());
        }
        String hash = text.substring(colon + 1);
        if (!Bcrypt.isWellFormed(hash)) {
            throw new UsersFileException(file, number, "not a bcrypt hash ($2y$NN$ and 53 characters)");
        }
        return new Line(text, user, hash);
    }

    static Line userLine(String user, String hash) {
        return new Line(user + ":" + hash, user, hash);
    }

    static byte[] render(List<Line> lines) {
        StringBuilder b = new StringBuilder();
        for (Line l : lines) {
            b.append(l.text()).append('\n');
        }
        return b.toString().getBytes(StandardCharsets.UTF_8);
    }

    /**
     * SASL sends the name as UTF-8 (RFC 4616); whitespace and control characters would be invisible or
     * ambiguous in the file and in logs, and ':' separates the name from the hash. The message never
     * quotes the name, which may be a mistyped password.
     */
    static void requireValidUserName(String user) {
        if (user == null || user.isEmpty()) {
            throw new IllegalArgumentException("user name is empty");
        }
        if (user.codePointCount(0, user.length()) > MAX_USER_LENGTH) {
            throw new IllegalArgumentException("user name longer than " + MAX_USER_LENGTH + " characters");
        }
        boolean bad = user.codePoints().anyMatch(c -> c == ':' || Character.isWhitespace(c)
                || Character.isSpaceChar(c) || Character.isISOControl(c) || Character.getType(c) == Character.SURROGATE);
        if (bad) {
            throw new IllegalArgumentException("user name contains ':', whitespace or a control character");
        }
    }
}
