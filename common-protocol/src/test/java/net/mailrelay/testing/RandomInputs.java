package net.mailrelay.testing;

import java.util.Random;

/**
 * Seeded random input for parser robustness tests: strings built from fragments of the grammar under
 * test mixed with arbitrary characters, so that most inputs get deep into the parser and some are
 * plain noise. The seed is printed by the caller on failure so a case can be replayed.
 */
public final class RandomInputs {

    private static final String[] FRAGMENTS = {
        "<", ">", "@", ":", ",", ".", "\"", "\\", "[", "]", " ", "=", "-", "a", "b.example", "user",
        "FROM:", "TO:", "SIZE=", "BODY=8BITMIME", "SMTPUTF8", "NOTIFY=", "ORCPT=rfc822;", "ENVID=", "RET=",
        "\r", "\n", "\r\n", ".\r\n", "\u0000", "\u00e9", "\u4e2d", "\ud83d\ude00", "\ud800", "\t", "0", "99999999999999999999"
    };

    private final Random random;

    public RandomInputs(long seed) {
        this.random = new Random(seed);
    }

    public String next(int maxParts) {
        StringBuilder sb = new StringBuilder();
        int parts = random.nextInt(maxParts + 1);
        for (int i = 0; i < parts; i++) {
            if (random.nextInt(4) == 0) {
                sb.append((char) random.nextInt(0x3000));
            } else {
                sb.append(FRAGMENTS[random.nextInt(FRAGMENTS.length)]);
            }
        }
        return sb.toString();
    }

    public byte[] nextBytes(int maxLength) {
        byte[] b = new byte[random.nextInt(maxLength + 1)];
        random.nextBytes(b);
        return b;
    }

    public boolean nextBoolean() {
        return random.nextBoolean();
    }
}
