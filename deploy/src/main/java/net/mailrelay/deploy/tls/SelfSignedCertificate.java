package net.mailrelay.deploy.tls;

import java.io.IOException;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.util.IPAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The certificate {@code standalone} makes on first start when no TLS certificate is configured, so that
 * STARTTLS and AUTH work out of the box on a test machine. No client will trust it; it only keeps
 * passwords off the wire between a client told to accept it and the relay.
 *
 * <p>EC P-256 with SHA256withECDSA: accepted by the JDK's TLS 1.2 and 1.3 (which Netty uses without
 * OpenSSL) and by every current mail client. The JDK's own providers do the cryptography; Bouncy Castle
 * only builds the certificate and writes PEM, so it need not be registered as a security provider.
 */
public final class SelfSignedCertificate {

    private static final Logger LOG = LoggerFactory.getLogger(SelfSignedCertificate.class);

    private static final Duration BACKDATE = Duration.ofDays(1); // tolerates clients whose clock is behind
    private static final int VALID_YEARS = 2;
    private static final Pattern DNS_NAME = Pattern.compile("[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_.])?");
    private static final Set<PosixFilePermission> KEY_MODE = PosixFilePermissions.fromString("rw-------");
    private static final Set<PosixFilePermission> CERT_MODE = PosixFilePermissions.fromString("rw-r--r--");

    private SelfSignedCertificate() {
    }

    /**
     * Creates a certificate for {@code hostname} and its private key unless both files exist already.
     * Returns whether it created them. The key is unencrypted PKCS#8 PEM, readable by its owner only.
     */
    public static boolean ensure(Path certPem, Path keyPem, String hostname) throws IOException {
        if (Files.exists(certPem) && Files.exists(keyPem)) {
            return false;
        }
        if (hostname == null || !(IPAddress.isValid(hostname) || DNS_NAME.matcher(hostname).matches())) {
            throw new IllegalArgumentException("cannot make a certificate for host name '" + hostname + "'");
        }
        KeyPair keys;
        X509CertificateHolder certificate;
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
            generator.initialize(new ECGenParameterSpec("secp256r1"), new SecureRandom());
            keys = generator.generateKeyPair();
            certificate = certificate(keys, hostname, Instant.now());
        } catch (GeneralSecurityException | OperatorCreationException e) {
            throw new IllegalStateException("this JVM cannot make an EC P-256 certificate", e);
        }
        // Key first: a start interrupted between the two writes finds no certificate and makes a new pair.
        write(keyPem, pem(new JcaPKCS8Generator(keys.getPrivate(), null)), KEY_MODE);
        write(certPem, pem(certificate), CERT_MODE);
        LOG.warn("generated a self-signed TLS certificate for {} at {}; clients will not trust it — "
                + "configure tls.cert-file and tls.key-file for production", hostname, certPem);
        return true;
    }

    private static X509CertificateHolder certificate(KeyPair keys, String hostname, Instant now)
            throws GeneralSecurityException, OperatorCreationException, IOException {
        X500Name subject = new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.CN, hostname).build();
        // RFC 5280 4.1.2.2: positive, at most 20 octets; random so that regenerated certificates differ.
        BigInteger serial = new BigInteger(127, new SecureRandom()).add(BigInteger.ONE);
        Instant notBefore = now.minus(BACKDATE);
        Instant notAfter = now.atOffset(ZoneOffset.UTC).plusYears(VALID_YEARS).toInstant();
        JcaX509ExtensionUtils extensions = new JcaX509ExtensionUtils();
        JcaX509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(subject, serial,
                Date.from(notBefore), Date.from(notAfter), subject, keys.getPublic());
        builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
                .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature))
                .addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth))
                .addExtension(Extension.subjectKeyIdentifier, false, extensions.createSubjectKeyIdentifier(keys.getPublic()))
                .addExtension(Extension.subjectAlternativeName, false, alternativeNames(hostname));
        return builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(keys.getPrivate()));
    }

    /** Clients match the SAN, not the CN (RFC 6125); localhost names let a client on the same machine connect. */
    private static GeneralNames alternativeNames(String hostname) {
        List<GeneralName> names = new ArrayList<>();
        names.add(new GeneralName(IPAddress.isValid(hostname) ? GeneralName.iPAddress : GeneralName.dNSName, hostname));
        if (!hostname.equalsIgnoreCase("localhost")) {
            names.add(new GeneralName(GeneralName.dNSName, "localhost"));
            if (!hostname.equals("127.0.0.1")) {
                names.add(new GeneralName(GeneralName.iPAddress, "127.0.0.1"));
            }
        }
        return new GeneralNames(names.toArray(GeneralName[]::new));
    }

    private static byte[] pem(Object object) throws IOException {
        StringWriter text = new StringWriter();
        try (JcaPEMWriter writer = new JcaPEMWriter(text)) {
            writer.writeObject(object);
        }
        return text.toString().getBytes(StandardCharsets.US_ASCII);
    }

    /** Through a private temporary file and a rename, so the key is never readable by others, even briefly. */
    private static void write(Path file, byte[] content, Set<PosixFilePermission> mode) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        boolean posix = dir.getFileSystem().supportedFileAttributeViews().contains("posix");
        Path tmp = posix
                ? Files.createTempFile(dir, "." + file.getFileName(), ".tmp", PosixFilePermissions.asFileAttribute(KEY_MODE))
                : Files.createTempFile(dir, "." + file.getFileName(), ".tmp");
        try {
            Files.write(tmp, content);
            if (posix) {
                Files.setPosixFilePermissions(tmp, mode);
            }
            Files.move(tmp, file.toAbsolutePath(), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
    }
}
