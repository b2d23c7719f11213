package net.mailrelay.protocol.dkim;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Locale;

/**
 * {@code dkim keygen}: a new key pair, its private half written where {@link DkimKeys} reads it
 * ({@code DIR/domain/selector.pem}, PKCS#8 PEM, mode 0600, never overwriting) and the DNS record of its
 * public half beside it ({@code selector.txt}), which is also returned for printing.
 */
public final class KeyGeneration {

    /** What was written, and the record to publish. */
    public record Generated(Path keyFile, String dnsRecord) {
    }

    private KeyGeneration() {
    }

    /** @param algorithm "rsa" or "ed25519"; @param bits the RSA modulus (1024 to 4096), ignored for Ed25519 */
    public static Generated generate(Path dir, String domain, String selector, String algorithm, int bits) throws IOException {
        domain = domain.toLowerCase(Locale.ROOT);
        if (!DkimKeys.DOMAIN.matcher(domain).matches()) {
            throw new IllegalArgumentException("not a domain name: " + domain);
        }
        if (!DkimKeys.SELECTOR.matcher(selector).matches()) {
            throw new IllegalArgumentException("not a selector (letters, digits, hyphens, dots): " + selector);
        }
        KeyPair pair = switch (algorithm.toLowerCase(Locale.ROOT)) {
            case "rsa" -> {
                if (bits < 1024 || bits > 4096) {
                    throw new IllegalArgumentException("an RSA DKIM key has 1024 to 4096 bits (RFC 8301), not " + bits);
                }
                yield pair("RSA", bits);
            }
            case "ed25519" -> pair("Ed25519", 0);
            default -> throw new IllegalArgumentException("the algorithm is rsa or ed25519, not " + algorithm);
        };
        Path folder = dir.resolve(domain);
        Files.createDirectories(folder);
        Path key = folder.resolve(selector + ".pem");
        if (Files.exists(key)) {
            throw new FileAlreadyExistsException(key.toString(), null, "a key for this selector exists already; pick a new selector");
        }
        String pem = "-----BEGIN PRIVATE KEY-----\n"
                + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(pair.getPrivate().getEncoded())
                + "\n-----END PRIVATE KEY-----\n";
        try {
            Files.createFile(key, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        } catch (UnsupportedOperationException e) {
            Files.createFile(key);
        }
        Files.writeString(key, pem, StandardCharsets.US_ASCII);
        String record = dnsRecord(domain, selector, pair.getPublic());
        Files.writeString(folder.resolve(selector + ".txt"), record + "\n", StandardCharsets.US_ASCII);
        return new Generated(key, record);
    }

    /**
     * The zone-file line for a public key: {@code s._domainkey.d. IN TXT "v=DKIM1; k=rsa; p=..."}, the
     * text cut into strings of at most 255 characters, as a TXT record's strings must be (RFC 1035 3.3).
     */
    public static String dnsRecord(String domain, String selector, PublicKey key) {
        String text;
        if (key.getAlgorithm().equals("RSA")) {
            text = "v=DKIM1; k=rsa; p=" + Base64.getEncoder().encodeToString(key.getEncoded());
        } else {
            byte[] spki = key.getEncoded(); // RFC 8463 4.2: the record holds the raw 32-byte key, not the SPKI
            text = "v=DKIM1; k=ed25519; p=" + Base64.getEncoder().encodeToString(Arrays.copyOfRange(spki, spki.length - 32, spki.length));
        }
        List<String> strings = new ArrayList<>();
        for (int i = 0; i < text.length(); i += 255) {
            strings.add("\"" + text.substring(i, Math.min(text.length(), i + 255)) + "\"");
        }
        return selector + "._domainkey." + domain + ". IN TXT " + String.join(" ", strings);
    }

    /** The public half of a signing key: RSA from its CRT parameters, Ed25519 computed from the seed. */
    public static PublicKey publicKey(PrivateKey key) {
        try {
            if (key instanceof java.security.interfaces.RSAPrivateCrtKey rsa) {
                return java.security.KeyFactory.getInstance("RSA").generatePublic(
                        new java.security.spec.RSAPublicKeySpec(rsa.getModulus(), rsa.getPublicExponent()));
            }
            if (key instanceof java.security.interfaces.EdECPrivateKey ed && ed.getBytes().isPresent()) {
                byte[] raw = new org.bouncycastle.crypto.params.Ed25519PrivateKeyParameters(ed.getBytes().get(), 0)
                        .generatePublicKey().getEncoded();
                // The SubjectPublicKeyInfo of an Ed25519 key: a fixed 12-byte prefix, then the 32 bytes.
                byte[] spki = java.util.HexFormat.of().parseHex("302a300506032b6570032100");
                byte[] encoded = Arrays.copyOf(spki, spki.length + raw.length);
                System.arraycopy(raw, 0, encoded, spki.length, raw.length);
                return java.security.KeyFactory.getInstance("Ed25519").generatePublic(new java.security.spec.X509EncodedKeySpec(encoded));
            }
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot compute the public key of a " + key.getAlgorithm() + " key", e);
        }
        throw new IllegalArgumentException("not an RSA or Ed25519 signing key: " + key.getAlgorithm());
    }

    private static KeyPair pair(String algorithm, int bits) {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance(algorithm);
            if (bits > 0) {
                g.initialize(bits);
            }
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("this JDK cannot make " + algorithm + " keys", e);
        }
    }
}
