package net.mailrelay.deploy.broker;

import java.io.IOException;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/** A certificate authority made by a test, issuing EC P-256 certificates as PEM files. */
public final class TestCa {

    /** A certificate and its key, as the PEM files a relay or a broker is given. */
    public record Issued(Path certFile, Path keyFile, String certPem, String keyPem) {
    }

    private final String name;
    private final KeyPair keys;
    private final X509CertificateHolder certificate;
    private final Path dir;
    private final SecureRandom random = new SecureRandom();

    public TestCa(String name, Path dir) throws Exception {
        this.name = name;
        this.dir = Files.createDirectories(dir);
        this.keys = keyPair();
        Instant now = Instant.now();
        X500Name subject = new X500Name("CN=" + name);
        JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(subject, serial(), Date.from(now.minus(Duration.ofDays(1))),
                Date.from(now.plus(Duration.ofDays(30))), subject, keys.getPublic());
        b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true))
                .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
        certificate = b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(keys.getPrivate()));
        Files.writeString(caFile(), pem(certificate));
    }

    /** The CA's own certificate, PEM: what a party that trusts this CA is given. */
    public Path caFile() {
        return dir.resolve(name + "-ca.pem");
    }

    public String caPem() throws IOException {
        return Files.readString(caFile());
    }

    /** A certificate for 127.0.0.1 and localhost, valid from yesterday for 30 days. */
    public Issued issue(String cn) throws Exception {
        Instant now = Instant.now();
        return issue(cn, now.minus(Duration.ofDays(1)), now.plus(Duration.ofDays(30)));
    }

    public Issued issue(String cn, Instant notBefore, Instant notAfter) throws Exception {
        KeyPair pair = keyPair();
        JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(new X500Name("CN=" + name), serial(),
                Date.from(notBefore), Date.from(notAfter), new X500Name("CN=" + cn), pair.getPublic());
        b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
                .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature))
                .addExtension(Extension.extendedKeyUsage, false,
                        new ExtendedKeyUsage(new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}))
                .addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[] {
                        new GeneralName(GeneralName.iPAddress, "127.0.0.1"), new GeneralName(GeneralName.dNSName, "localhost")}));
        X509CertificateHolder cert = b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(keys.getPrivate()));
        String certPem = pem(cert);
        String keyPem = pem(new JcaPKCS8Generator(pair.getPrivate(), null));
        Path certFile = dir.resolve(cn + "-cert.pem");
        Path keyFile = dir.resolve(cn + "-key.pem");
        Files.writeString(certFile, certPem);
        Files.writeString(keyFile, keyPem);
        return new Issued(certFile, keyFile, certPem, keyPem);
    }

    private BigInteger serial() {
        return new BigInteger(64, random).add(BigInteger.ONE);
    }

    private static KeyPair keyPair() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        return g.generateKeyPair();
    }

    private static String pem(Object o) throws IOException {
        StringWriter w = new StringWriter();
        try (JcaPEMWriter p = new JcaPEMWriter(w)) {
            p.writeObject(o);
        }
        return w.toString();
    }
}
