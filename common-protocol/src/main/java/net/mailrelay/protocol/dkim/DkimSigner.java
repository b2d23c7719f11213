package net.mailrelay.protocol.dkim;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.interfaces.RSAKey;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * A DKIM signer (RFC 6376) for one domain, selector and key: RSA-SHA256, or Ed25519-SHA256 (RFC 8463),
 * relaxed/relaxed, over the exact bytes of a message. {@link #sign} returns the DKIM-Signature field to
 * put in front of the message. RSA keys under 1024 bits are refused (RFC 8301).
 *
 * <p>Every instance of each header field named is signed, picked as RFC 6376 5.4.2 says, from the bottom
 * up. An over-signed name is listed once more than it occurs, which signs its absence, so that a From
 * added in transit breaks the signature (5.4.2, 8.15).
 */
public final class DkimSigner {

    /** The signing algorithm, by the name DKIM gives it. */
    public enum Algorithm {
        RSA_SHA256("rsa-sha256"), ED25519_SHA256("ed25519-sha256");

        final String tag;

        Algorithm(String tag) {
            this.tag = tag;
        }

        /** The name in {@code a=}. */
        public String tag() {
            return tag;
        }
    }

    private final String domain;
    private final String selector;
    private final PrivateKey key;
    private final Algorithm algorithm;
    private final List<String> headers;
    private final Set<String> oversigned;
    private final long lifetimeSeconds;

    /**
     * @param headers the names whose every instance is signed
     * @param oversigned the names also signed once more than they occur; From must be one
     * @param lifetime how long the signature is valid ({@code x=}); zero for no expiry
     */
    public DkimSigner(String domain, String selector, PrivateKey key, List<String> headers, Set<String> oversigned,
            Duration lifetime) {
        this.domain = Objects.requireNonNull(domain, "domain").toLowerCase(Locale.ROOT);
        this.selector = Objects.requireNonNull(selector, "selector");
        this.key = Objects.requireNonNull(key, "key");
        this.headers = headers.stream().map(h -> h.toLowerCase(Locale.ROOT)).distinct().toList();
        this.oversigned = oversigned.stream().map(h -> h.toLowerCase(Locale.ROOT)).collect(java.util.stream.Collectors.toSet());
        this.lifetimeSeconds = lifetime.toSeconds();
        if (lifetimeSeconds < 0) {
            throw new IllegalArgumentException("a DKIM signature lifetime cannot be negative: " + lifetime);
        }
        if (key instanceof RSAKey rsa) {
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
        if (!this.oversigned.contains("from")) {
            throw new IllegalArgumentException("the From field must be signed, and over-signed (RFC 6376 5.4, 8.15)");
        }
        if (!this.headers.containsAll(this.oversigned)) {
            throw new IllegalArgumentException("an over-signed field must be among those signed: " + this.oversigned);
        }
    }

    public Algorithm algorithm() {
        return algorithm;
    }

    /** The private key, for {@link DkimKeys#records()}; never logged. */
    PrivateKey key() {
        return key;
    }

    public String domain() {
        return domain;
    }

    public String selector() {
        return selector;
    }

    /** The DKIM-Signature field for the message that fills {@code value} from {@code offset} to its end. */
    public String sign(byte[] value, int offset, long epochSeconds) {
        return sign(offset == 0 ? value : java.util.Arrays.copyOfRange(value, offset, value.length), epochSeconds);
    }

    /**
     * The DKIM-Signature field for {@code message} (header, empty line, body, CRLF line ends), folded,
     * ending with CRLF, signed at {@code epochSeconds}.
     */
    public String sign(byte[] message, long epochSeconds) {
        int bodyStart = bodyStart(message);
        List<String> fields = fields(message, bodyStart);
        String bh = Base64.getEncoder().encodeToString(sha256(Canonical.body(message, bodyStart)));
        List<String> names = signedNames(fields);
        String expiry = lifetimeSeconds == 0 ? "" : "; x=" + (epochSeconds + lifetimeSeconds);
        String tags = "v=1; a=" + algorithm.tag + "; c=relaxed/relaxed; d=" + domain + "; s=" + selector + "; t=" + epochSeconds
                + expiry + "; h=" + String.join(":", names) + "; bh=" + bh + "; b=";
        StringBuilder signed = new StringBuilder();
        Map<String, Integer> used = new HashMap<>();
        for (String name : names) {
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

    /** The values of the header fields called {@code name} in the message at {@code offset}, folds and all, top first. */
    public static List<String> fieldValues(byte[] value, int offset, String name) {
        byte[] message = offset == 0 ? value : java.util.Arrays.copyOfRange(value, offset, value.length);
        String wanted = name.toLowerCase(Locale.ROOT);
        List<String> out = new ArrayList<>();
        for (String f : fields(message, bodyStart(message))) {
            if (name(f).equals(wanted)) {
                out.add(f.substring(f.indexOf(':') + 1));
            }
        }
        return out;
    }

    /** h=: each name as often as it occurs, an over-signed one once more. */
    private List<String> signedNames(List<String> fields) {
        Map<String, Integer> present = new HashMap<>();
        for (String f : fields) {
            present.merge(name(f), 1, Integer::sum);
        }
        List<String> names = new ArrayList<>();
        for (String h : headers) {
            int n = present.getOrDefault(h, 0) + (oversigned.contains(h) ? 1 : 0);
            for (int i = 0; i < n; i++) {
                names.add(h);
            }
        }
        return names;
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

    /**
     * Where the body begins: after the first empty line; the end when there is none. A line ends with
     * CRLF or a bare LF ({@link Canonical#lineEnd}).
     */
    static int bodyStart(byte[] m) {
        int i = 0;
        while (i < m.length) {
            int end = Canonical.lineEnd(m, i);
            if (end == i && end < m.length) {
                return Canonical.nextLine(m, end);
            }
            i = Canonical.nextLine(m, end);
        }
        return m.length;
    }

    /**
     * The header fields before {@code bodyStart}, each with its folds (joined by CRLF) and without its
     * line break; a last field without one (a message that is all header, with no final CRLF) whole.
     */
    static List<String> fields(byte[] m, int bodyStart) {
        List<String> out = new ArrayList<>();
        int headerEnd = Math.min(bodyStart, m.length);
        int i = 0;
        while (i < headerEnd) {
            int end = Canonical.lineEnd(m, i);
            String line = new String(m, i, end - i, StandardCharsets.ISO_8859_1);
            i = Canonical.nextLine(m, end);
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
        return Canonical.trimWsp(colon < 0 ? field : field.substring(0, colon)).toLowerCase(Locale.ROOT);
    }
}
