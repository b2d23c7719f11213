package net.mailrelay.edge.auth;

import java.security.SecureRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bouncycastle.crypto.generators.OpenBSDBCrypt;

/**
 * The password hash of the users file: bcrypt in the OpenBSD string form ({@code $2y$11$} + 22 characters
 * of salt + 31 of hash), the same lines {@code htpasswd -B} writes, computed by Bouncy Castle.
 *
 * <p>bcrypt keys on at most 72 bytes: Bouncy Castle hashes the UTF-8 encoding of the password and ignores
 * everything after byte 72, so two passwords that share their first 72 bytes are the same password.
 */
final class Bcrypt {

    /** {@code 2y} is what htpasswd and PHP write; {@code 2a} and {@code 2b} name the same algorithm. */
    static final String VERSION = "2y";
    /** 2^11 rounds, about 0.1 s on a current server core: slow for a guesser, tolerable per AUTH. */
    static final int COST = 11;

    private static final int SALT_BYTES = 16;
    private static final Pattern FORM = Pattern.compile("\\$2[aby]\\$(0[4-9]|[12][0-9]|3[01])\\$[./A-Za-z0-9]{53}");
    private static final SecureRandom RANDOM = new SecureRandom();

    private Bcrypt() {
    }

    static String hash(char[] password) {
        return hash(password, COST);
    }

    static String hash(char[] password, int cost) {
        byte[] salt = new byte[SALT_BYTES];
        RANDOM.nextBytes(salt);
        return OpenBSDBCrypt.generate(VERSION, password, salt, cost);
    }

    /** Compares in constant time (Bouncy Castle); the hash must have passed {@link #isWellFormed}. */
    static boolean matches(String hash, char[] password) {
        return OpenBSDBCrypt.checkPassword(hash, password);
    }

    static boolean isWellFormed(String hash) {
        return FORM.matcher(hash).matches();
    }

    static int cost(String hash) {
        Matcher m = FORM.matcher(hash);
        if (!m.matches()) {
            throw new IllegalArgumentException("not a bcrypt hash");
        }
        return Integer.parseInt(m.group(1));
    }
}
