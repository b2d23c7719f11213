package net.mailrelay.protocol.cluster;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Signs the values the relay keeps in Hazelcast where a forged one could lose mail: a "delivered" mark,
 * a delivery claim, a delete or fail order. The community edition has no member authentication, so
 * whoever reaches port 5701 with the cluster name can write any map. The cluster secret stays in the
 * workers and is never written to Hazelcast: a value an outsider wrote does not carry a valid MAC and is
 * read as absent. The worst a forger can then do is delete entries, which costs a duplicate or a delay.
 *
 * <p>A sealed value is {@code payload~expiry~mac}: HMAC-SHA256 over the map's name, the entry's key, the
 * expiry (milliseconds, base 36) and the payload, cut to 128 bits, base64url. So a genuine value copied
 * to another key or another map does not open, and one written back later opens only until the expiry
 * its writer gave it. The writer's identity (its member UUID, new at every start) is in the payloads
 * that need it, the claims; docs/queue.md, "The seal's threat model", says why the others do not.
 */
public final class Seal {

    private static final int MIN_SECRET = 16;
    private static final int MAC_BYTES = 16;
    private static final Base64.Encoder B64 = Base64.getUrlEncoder().withoutPadding();

    private final SecretKeySpec key;
    private final ThreadLocal<Mac> macs;

    private Seal(byte[] secret) {
        if (secret.length < MIN_SECRET) {
            throw new IllegalArgumentException("the cluster secret must have at least " + MIN_SECRET + " bytes, not "
                    + secret.length);
        }
        this.key = new SecretKeySpec(secret.clone(), "HmacSHA256");
        this.macs = ThreadLocal.withInitial(() -> {
            try {
                Mac m = Mac.getInstance("HmacSHA256");
                m.init(key);
                return m;
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("this JVM has no HmacSHA256", e);
            }
        });
    }

    public static Seal of(byte[] secret) {
        return new Seal(secret);
    }

    /** A secret of this process alone: for a cluster of one member (standalone), whose maps die with it. */
    public static Seal random() {
        byte[] b = new byte[32];
        new SecureRandom().nextBytes(b);
        return new Seal(b);
    }

    /** {@code payload}, sealed for the entry {@code key} of {@code map}, opening until {@code expiresAtMillis}. */
    public String seal(String map, String key, String payload, long expiresAtMillis) {
        String expiry = Long.toString(expiresAtMillis, 36);
        return payload + '~' + expiry + '~' + mac(map, key, expiry, payload);
    }

    /**
     * The payload of a value this cluster sealed for the entry {@code key} of {@code map} that has not
     * expired at {@code nowMillis}; null for anything else (absent, foreign, forged, copied, expired).
     */
    public String open(String map, String key, Object sealed, long nowMillis) {
        if (!(sealed instanceof String s)) {
            return null;
        }
        int macAt = s.lastIndexOf('~');
        int expiryAt = macAt <= 0 ? -1 : s.lastIndexOf('~', macAt - 1);
        if (expiryAt < 0) {
            return null;
        }
        String payload = s.substring(0, expiryAt);
        String expiry = s.substring(expiryAt + 1, macAt);
        byte[] expected = mac(map, key, expiry, payload).getBytes(StandardCharsets.US_ASCII);
        byte[] given = s.substring(macAt + 1).getBytes(StandardCharsets.US_ASCII);
        if (!MessageDigest.isEqual(expected, given)) {
            return null;
        }
        try {
            return Long.parseLong(expiry, 36) > nowMillis ? payload : null;
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /** The payload part of a sealed value, unchecked: for code that runs where an entry lives, without the secret. */
    public static String payloadOf(String sealed) {
        int macAt = sealed.lastIndexOf('~');
        int expiryAt = macAt <= 0 ? -1 : sealed.lastIndexOf('~', macAt - 1);
        return expiryAt < 0 ? null : sealed.substring(0, expiryAt);
    }

    private String mac(String map, String key, String expiry, String payload) {
        Mac m = macs.get();
        for (String part : new String[] {map, key, expiry}) {
            m.update(part.getBytes(StandardCharsets.UTF_8));
            m.update((byte) 0);
        }
        byte[] full = m.doFinal(payload.getBytes(StandardCharsets.UTF_8));
        byte[] cut = new byte[MAC_BYTES];
        System.arraycopy(full, 0, cut, 0, MAC_BYTES);
        return B64.encodeToString(cut);
    }
}
