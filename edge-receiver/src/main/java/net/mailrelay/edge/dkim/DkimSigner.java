package net.mailrelay.edge.dkim;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.interfaces.RSAPrivateCrtKey;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * A DKIM signer (RFC 6376) for one domain, selector and key: RSA-SHA256, or Ed25519-SHA256 (RFC 8463),
 * relaxed/relaxed, over the exact bytes of a message. {@link #sign} returns the DKIM-Signature field to
 * put in front of the message. RSA keys under 1024 bits are refused (RFC 8301).
 *
 * <p>The header fields signed are picked as RFC 6376 5.4.2 says, from the bottom up, one instance per
 * name listed; a name listed once more than it occurs signs its absence, so that a From added in transit
 * breaks the signature (over-signing).
 */
public final class DkimSigner {

    /** The signing algorithm, by the name DKIM gives it. */
    public enum Algorithm {
        RSA_SHA256("rsa-sha256"), ED25519_SHA256("ed25519-sha256");

        final String tag;

        Algorithm(String tag) {
            this.tag = tag;
        }
    }

    private final String domain;
    private final String selector;
    private final PrivateKey key;
    private final Algorithm algorithm;
    private final List<String> headers;

    /** @param headers the names to sign, lower case, in order; a name repeated signs that many instances */
    public DkimSigner(String domain, String selector, PrivateKey key, List<String> headers) {
        this.domain = Objects.requireNonNull(domain, "domain");
        this.selector = Objects.requireNonNull(selector, "selector");
        this.key = Objects.requireNonNull(key, "key");
        this.headers = List.copyOf(headers);
        if (key instanceof RSAPrivateCrtKey rsa) {
            if (rsa.getModulus().bitLength() < 1024) {
                throw new IllegalArgumentException("an RSA key of " + rsa.getModulus().bitLength()
                        + " bits is too short for DKIM (RFC 8301: at least 1024)");
            }
            algorithm = Algorithm.RSA_SHA256;
        } else if (key.getAlgorithm().equals("EdDSA") || key.getAlgorithm().equals("Ed25519")) {
            algorithm = Algorithm.ED25519_SHA256;
        } else {
            throw new IllegalArgumentException("a DKIM key is RSA or Ed25519, not " + key.getAlgorithm());
        }
        if (!this.headers.contains("from")) {
            throw new IllegalArgumentException("the From field must be signed (RFC 6376 5.4)");
        }
    }

    public Algorithm algorithm() {
        return algorithm;
    }

    /**
     * The DKIM-Signature field for {@code message} (header, empty line, body, CRLF line ends), folded,
     * ending with CRLF, signed at {@code epochSeconds}.
     */
    public String sign(byte[] message, long epochSeconds) {
        int bodyStart = bodyStart(message);
        List<String> fields = fields(message, bodyStart);
        String bh = Base64.getEncoder().encodeToString(sha256(Canonical.body(message, bodyStart)));
        String tags = "v=1; a=" + algorithm.tag + "; c=relaxed/relaxed; d=" + domain + "; s=" + selector + "; t=" + epochSeconds
                + "; h=" + String.join(":", headers) + "; bh=" + bh + "; b=";
        StringBuilder signed = new StringBuilder();
        Map<String, Integer> used = new HashMap<>();
        for (String name : headers) {
            // From the bottom up: the n-th listing of a name signs its n-th instance counted from the end.
            int skip = used.merge(name, 1, Integer::sum);
            String field = null;
            for (int i = fields.size() - 1, seen = 0; i >= 0; i--) {
                if (name(fields.get(i)).equals(name) && ++seen == skip) {
                    field = fields.get(i);
                    break;
                }
            }
            if (field != null) {
                signed.append(Canonical.header(field)).append("\r\n");
            }
        }
        signed.append(Canonical.header("DKIM-Signature: " + tags));
        byte[] data = signed.toString().getBytes(StandardCharsets.ISO_8859_1); // the bytes as they were read
        String b = Base64.getEncoder().encodeToString(signature(data));
        return "DKIM-Signature: " + tags.replace("; ", ";\r\n\t") + b + "\r\n";
    }

    private byte[] signature(byte[] data) {
        try {
            Signature s;
            if (algorithm == Algorithm.RSA_SHA256) {
                s = Signature.getInstance("SHA256withRSA");
                s.initSign(key);
                s.update(data);
            } else {
                // RFC 8463 3: Ed25519 signs the SHA-256 hash of the data, not the data.
                s = Signature.getInstance("Ed25519");
                s.initSign(key);
                s.update(sha256(data));
            }
            return s.sign();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("signing with the DKIM key of " + domain + " failed", e);
        }
    }

    private static byte[] sha256(byte[] b) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(b);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Where the body begins: after the first empty line (CRLF CRLF); the end when there is none. */
    static int bodyStart(byte[] m) {
        if (m.length >= 2 && m[0] == '\r' && m[1] == '\n') {
            return 2;
        }
        for (int i = 0; i + 3 < m.length; i++) {
            if (m[i] == '\r' && m[i + 1] == '\n' && m[i + 2] == '\r' && m[i + 3] == '\n') {
                return i + 4;
            }
        }
        return m.length;
    }

    /** The header fields, each with its folds and without its final CRLF. */
    static List<String> fields(byte[] m, int bodyStart) {
        int end = Math.max(0, bodyStart - 2);
        String head = new String(m, 0, Math.min(end, m.length), StandardCharsets.ISO_8859_1);
        List<String> out = new ArrayList<>();
        for (String line : head.split("\r\n", -1)) {
            if (line.isEmpty()) {
                continue;
            }
            if ((line.charAt(0) == ' ' || line.charAt(0) == '\t') && !out.isEmpty()) {
                out.set(out.size() - 1, out.get(out.size() - 1) + "\r\n" + line);
            } else {
                out.add(line);
            }
        }
        return out;
    }

    private static String name(String field) {
        int colon = field.indexOf(':');
        return (colon < 0 ? field : field.substring(0, colon)).strip().toLowerCase(Locale.ROOT);
    }
}
