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
 * a delivery claim, a delete order, a suppression. The community edition has no member authentication,
 * so whoever reaches port 5701 with the cluster name can write any map. The cluster secret stays in the
 * relay's processes and is never written to Hazelcast: a value an outsider wrote does not carry a valid
 * MAC and is read as absent. The worst a forger can then do is delete entries, which costs a duplicate
 * or a delay.
 *
 * <p>A sealed value is {@code payload~mac}: HMAC-SHA256 over the map key and the payload, cut to 128
 * bits, base64url. The key is inside the MAC, so a genuine value copied to another key does not open.
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

    public String seal(String mapKey, String payload) {
        return payload + '~' + mac(mapKey, payload);
    }

    /** The payload of a value this cluster sealed under {@code mapKey}, or null for anything else (absent, foreign, forged). */
    public String open(String mapKey, Object sealed) {
        if (!(sealed instanceof String s)) {
            return null;
        }
        int tilde = s.lastIndexOf('~');
        if (tilde < 0) {
            return null;
        }
        String payload = s.substring(0, tilde);
        byte[] expected = mac(mapKey, payload).getBytes(StandardCharsets.US_ASCII);
        byte[] given = s.substring(tilde + 1).getBytes(StandardCharsets.US_ASCII);
        return MessageDigest.isEqual(expected, given) ? payload : null;
    }

    private String mac(String mapKey, String payload) {
        Mac m = macs.get();
        m.update(mapKey.getBytes(StandardCharsets.UTF_8));
        m.update((byte) 0);
        byte[] full = m.doFinal(payload.getBytes(StandardCharsets.UTF_8));
        byte[] cut = new byte[MAC_BYTES];
        System.arraycopy(full, 0, cut, 0, MAC_BYTES);
        return B64.encodeToString(cut);
    }
}
