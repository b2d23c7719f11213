package net.mailrelay.edge.auth;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The users who may authenticate with SMTP AUTH PLAIN or LOGIN, read once from a users file. Immutable:
 * to pick up edits, a role builds a new store (the design has no reload inside a running process).
 *
 * <p>The users file is UTF-8 text with one user per line, {@code name:hash}, where the hash is bcrypt in
 * the form {@code htpasswd -B} writes ({@code $2y$11$} followed by 53 characters; {@code $2a$} and
 * {@code $2b$} and other costs from 04 to 31 are read too). Blank lines and lines starting with {@code #}
 * are ignored. A name is 1 to 256 characters without ':', whitespace or control characters, and appears
 * once. Any other line makes {@link #load} fail with {@link UsersFileException} naming the file and line.
 *
 * <pre>
 * # submission users
 * alice:$2y$11$<22 characters of salt><31 characters of hash>
 * </pre>
 *
 * <p>bcrypt uses only the first 72 bytes of the UTF-8 encoded password; longer passwords verify against
 * any password with the same first 72 bytes.
 */
public final class CredentialStore {

    /** Bytes of the UTF-8 encoded password that bcrypt uses; the rest is ignored. */
    public static final int MAX_PASSWORD_BYTES = 72;

    /**
     * Checked when the user is unknown, so that answering "no such user" costs as much as a wrong password
     * and the reply time does not reveal which names exist. The result is thrown away; its password was
     * 32 random bytes, not kept.
     */
    private static final String DUMMY_HASH = "$2y$11$ZU/RnAZ6VH9og4vID0brUOyG7Khqm0Wr9glP1KNZP8Y7ecjeaC/Oy";

    private static final CredentialStore EMPTY = new CredentialStore(Map.of(), DUMMY_HASH);

    private final Map<String, String> hashes;
    private final String dummyHash;

    private CredentialStore(Map<String, String> hashes, String dummyHash) {
        this.hashes = Collections.unmodifiableMap(new LinkedHashMap<>(hashes));
        this.dummyHash = dummyHash;
    }

    public static CredentialStore load(Path file) throws IOException {
        Map<String, String> hashes = new LinkedHashMap<>();
        int maxCost = Bcrypt.COST;
        for (UsersFileFormat.Line line : UsersFileFormat.read(file)) {
            if (line.isUser()) {
                hashes.put(line.user(), line.hash());
                maxCost = Math.max(maxCost, Bcrypt.cost(line.hash()));
            }
        }
        // If an operator raised the cost, a dummy at cost 11 would answer unknown users faster than known ones.
        String dummy = maxCost == Bcrypt.COST ? DUMMY_HASH : dummyAtCost(maxCost);
        return new CredentialStore(hashes, dummy);
    }

    public static CredentialStore empty() {
        return EMPTY;
    }

    /**
     * Whether the password is the user's. The caller keeps the array and should zero it afterwards. Takes
     * about as long for an unknown user as for a known one.
     */
    public boolean verify(String user, char[] password) {
        Objects.requireNonNull(password, "password");
        String hash = user == null ? null : hashes.get(user);
        if (hash == null) {
            Bcrypt.matches(dummyHash, password);
            return false;
        }
        return Bcrypt.matches(hash, password);
    }

    public Set<String> users() {
        return hashes.keySet();
    }

    public boolean isEmpty() {
        return hashes.isEmpty();
    }

    /** Never the hashes: this may end up in a log line. */
    @Override
    public String toString() {
        return "CredentialStore[" + hashes.size() + " users]";
    }

    /** The password does not matter: the result of checking a dummy is thrown away. */
    private static String dummyAtCost(int cost) {
        return Bcrypt.hash("unknown user".toCharArray(), cost);
    }
}
