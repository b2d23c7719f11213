package net.mailrelay.protocol.dkim;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * The signing keys of {@code dkim.key-dir}, laid out as OpenDKIM's key directories are: one folder per
 * signing domain, one PKCS#8 PEM file per selector, {@code DIR/example.org/s1.pem}. Every key of a domain
 * signs its mail, so an RSA and an Ed25519 key side by side give the two signatures RFC 8463 advises.
 * Other files (the {@code .txt} DNS records that {@code dkim keygen} writes beside its keys) are skipped.
 *
 * <p>Everything is read once, at start. A file that does not hold a usable key stops the start with an
 * error that names the file and never quotes it. Like OpenDKIM's RequireSafeKeys, a key that other users
 * may read, or that its group may change, is refused.
 */
public final class DkimKeys {

    static final Pattern DOMAIN = Pattern.compile("(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+");
    static final Pattern SELECTOR = Pattern.compile("(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*");

    /** What each signature covers and how long it holds (the {@code dkim.*} keys). */
    public record Settings(List<String> headers, Set<String> oversigned, Duration lifetime) {
        public static final List<String> DEFAULT_HEADERS = List.of("from", "reply-to", "sender", "subject", "date", "message-id",
                "to", "cc", "in-reply-to", "references", "mime-version", "content-type", "content-transfer-encoding",
                "content-disposition", "list-id", "list-help", "list-unsubscribe", "list-unsubscribe-post", "list-subscribe",
                "list-post", "list-owner", "list-archive", "feedback-id");

        public static Settings defaults() {
            return new Settings(DEFAULT_HEADERS, Set.of("from"), Duration.ZERO);
        }

        public Settings {
            headers = List.copyOf(headers);
            oversigned = Set.copyOf(oversigned);
        }
    }

    /**
     * The keys by domain, and the signing domains whose keys also sign mail from their subdomains
     * ({@code dkim.subdomains}); replaced whole by {@link #replaceWith}, so a reader sees one or the other.
     */
    private record State(Map<String, List<DkimSigner>> byDomain, Set<String> subdomains) {
    }

    private volatile State state;

    private DkimKeys(Map<String, List<DkimSigner>> byDomain, Set<String> subdomains) {
        this.state = new State(byDomain, subdomains);
    }

    /**
     * From now on, the keys of {@code loaded} (read and checked in full before: {@code queue reload-dkim}).
     * Everything that holds this instance (the edge's signing, the DSNs) signs with them from its next
     * message; a message being signed finishes with the keys it started with.
     */
    public void replaceWith(DkimKeys loaded) {
        this.state = loaded.state;
    }

    public static DkimKeys none() {
        return new DkimKeys(Map.of(), Set.of());
    }

    /**
     * These keys, with those of {@code domains} also signing mail whose From domain is a subdomain of
     * theirs ({@code dkim.subdomains}); throws {@link DkimKeyException} for a domain that has no key, which
     * is a typo or a key forgotten, never something to ignore.
     */
    public DkimKeys withSubdomains(Set<String> domains) {
        Map<String, List<DkimSigner>> byDomain = state.byDomain();
        Set<String> lower = new java.util.TreeSet<>();
        for (String d : domains) {
            String l = d.toLowerCase(Locale.ROOT);
            if (!byDomain.containsKey(l)) {
                throw new DkimKeyException("dkim.subdomains names " + d + ", which has no key (keys are for "
                        + (byDomain.isEmpty() ? "no domain" : String.join(", ", byDomain.keySet())) + ")");
            }
            lower.add(l);
        }
        return new DkimKeys(byDomain, java.util.Collections.unmodifiableSet(lower));
    }

    /** Reads every key under {@code dir}; throws {@link DkimKeyException} naming the first bad file. */
    public static DkimKeys load(Path dir, Settings settings) {
        if (!Files.isDirectory(dir)) {
            throw new DkimKeyException(dir + ": dkim.key-dir is not a directory");
        }
        Map<String, List<DkimSigner>> byDomain = new TreeMap<>();
        try (DirectoryStream<Path> domains = Files.newDirectoryStream(dir)) {
            for (Path d : sorted(domains)) {
                if (!Files.isDirectory(d)) {
                    continue;
                }
                String domain = d.getFileName().toString().toLowerCase(Locale.ROOT);
                if (!DOMAIN.matcher(domain).matches()) {
                    throw new DkimKeyException(d + ": the folder's name is the signing domain, and this is not a domain name");
                }
                List<DkimSigner> signers = new ArrayList<>();
                try (DirectoryStream<Path> files = Files.newDirectoryStream(d, "*.pem")) {
                    for (Path f : sorted(files)) {
                        signers.add(signer(domain, f, settings));
                    }
                }
                if (!signers.isEmpty()) {
                    byDomain.put(domain, List.copyOf(signers));
                }
            }
        } catch (IOException e) {
            throw new DkimKeyException(dir + ": cannot read the DKIM keys: " + e.getMessage());
        }
        return new DkimKeys(java.util.Collections.unmodifiableMap(byDomain), Set.of());
    }

    /** The signers for mail whose From domain is {@code domain}; empty when it has no key. */
    public List<DkimSigner> forDomain(String domain) {
        return state.byDomain().getOrDefault(domain.toLowerCase(Locale.ROOT), List.of());
    }

    /**
     * The signers for mail whose From domain is {@code domain}: its own keys; failing those, the keys of
     * its nearest parent that {@code dkim.subdomains} lets sign its subdomains; else none.
     */
    public List<DkimSigner> forFromDomain(String domain) {
        Set<String> subdomains = state.subdomains();
        List<DkimSigner> own = forDomain(domain);
        if (!own.isEmpty() || subdomains.isEmpty()) {
            return own;
        }
        String d = domain.toLowerCase(Locale.ROOT);
        for (int dot = d.indexOf('.'); dot > 0; dot = d.indexOf('.')) {
            d = d.substring(dot + 1);
            if (subdomains.contains(d)) {
                return forDomain(d);
            }
        }
        return List.of();
    }

    /** The signers of {@code name}, or of the nearest parent domain that has keys (the relay's own mail). */
    public List<DkimSigner> forDomainOrParent(String name) {
        String d = name.toLowerCase(Locale.ROOT);
        while (d.indexOf('.') > 0) {
            List<DkimSigner> s = forDomain(d);
            if (!s.isEmpty()) {
                return s;
            }
            d = d.substring(d.indexOf('.') + 1);
        }
        return List.of();
    }

    /**
     * The DNS record to publish for every key, by domain, then selector: {@code dkim show}, which tells
     * what to publish after a key was copied in, or checks what is published.
     */
    public List<String> records() {
        List<String> out = new ArrayList<>();
        state.byDomain().forEach((domain, signers) -> signers.forEach(s ->
                out.add(KeyGeneration.dnsRecord(domain, s.selector(), KeyGeneration.publicKey(s.key())))));
        return out;
    }

    public Set<String> domains() {
        return state.byDomain().keySet();
    }

    public boolean isEmpty() {
        return state.byDomain().isEmpty();
    }

    /** "example.org s=e1,r1; other.org s=o1": what signs, for logs and {@code queue reload-dkim}; never a key. */
    public String describe() {
        List<String> out = new ArrayList<>();
        state.byDomain().forEach((domain, signers) -> out.add(domain + " s=" + String.join(",",
                signers.stream().map(DkimSigner::selector).toList())));
        return out.isEmpty() ? "no keys" : String.join("; ", out);
    }

    private static DkimSigner signer(String domain, Path file, Settings settings) {
        String name = file.getFileName().toString();
        String selector = name.substring(0, name.length() - ".pem".length());
        if (!SELECTOR.matcher(selector).matches()) {
            throw new DkimKeyException(file + ": the file's name is the selector, and \"" + selector + "\" is not one");
        }
        refuseUnsafe(file);
        PrivateKey key = read(file);
        try {
            return new DkimSigner(domain, selector, key, settings.headers(), settings.oversigned(), settings.lifetime());
        } catch (IllegalArgumentException e) {
            throw new DkimKeyException(file + ": " + e.getMessage());
        }
    }

    private static void refuseUnsafe(Path file) {
        PosixFileAttributeView posix = Files.getFileAttributeView(file, PosixFileAttributeView.class);
        if (posix == null) {
            return;
        }
        try {
            Set<PosixFilePermission> p = posix.readAttributes().permissions();
            if (p.contains(PosixFilePermission.OTHERS_READ) || p.contains(PosixFilePermission.OTHERS_WRITE)
                    || p.contains(PosixFilePermission.GROUP_WRITE)) {
                throw new DkimKeyException(file + ": a private key that other users can read or change is refused; chmod 600 it");
            }
        } catch (IOException e) {
            throw new DkimKeyException(file + ": cannot read its permissions: " + e.getMessage());
        }
    }

    /** A PKCS#8 PEM private key, RSA or Ed25519. Messages never quote the file. */
    static PrivateKey read(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new DkimKeyException(file + ": cannot read it: " + e.getMessage());
        }
        if (text.contains("-----BEGIN RSA PRIVATE KEY-----")) {
            throw new DkimKeyException(file + ": a PKCS#1 RSA key (as opendkim-genkey writes); convert it to PKCS#8 with"
                    + " openssl pkcs8 -topk8 -nocrypt -in OLD -out NEW");
        }
        int begin = text.indexOf("-----BEGIN PRIVATE KEY-----");
        int end = text.indexOf("-----END PRIVATE KEY-----");
        if (begin < 0 || end < begin) {
            throw new DkimKeyException(file + ": not a PKCS#8 PEM private key (-----BEGIN PRIVATE KEY-----)");
        }
        byte[] der;
        try {
            der = Base64.getMimeDecoder().decode(text.substring(begin + "-----BEGIN PRIVATE KEY-----".length(), end));
        } catch (IllegalArgumentException e) {
            throw new DkimKeyException(file + ": the PEM's base64 does not decode");
        }
        for (String algorithm : List.of("RSA", "Ed25519")) {
            try {
                return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
            } catch (GeneralSecurityException e) {
                // try the next
            }
        }
        throw new DkimKeyException(file + ": neither an RSA nor an Ed25519 private key");
    }

    private static List<Path> sorted(DirectoryStream<Path> stream) {
        List<Path> out = new ArrayList<>();
        stream.forEach(out::add);
        out.sort(null);
        return out;
    }
}
