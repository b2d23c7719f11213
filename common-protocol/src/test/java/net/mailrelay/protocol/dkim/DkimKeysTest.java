package net.mailrelay.protocol.dkim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPairGenerator;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import net.mailrelay.testing.Dkimpy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Keys made by {@code dkim keygen}, read back as {@code dkim.key-dir}, sign mail that dkimpy verifies
 * with the DNS record keygen printed; a file that holds no usable key stops the start, named, unquoted.
 */
class DkimKeysTest {

    static final byte[] MESSAGE = ("From: a@example.org\r\nTo: b@example.net\r\nSubject: hi\r\n\r\nhello\r\n")
            .getBytes(StandardCharsets.US_ASCII);

    @TempDir
    Path dir;

    @Test
    void generatedKeysLoadAndSignWhatTheirPrintedRecordsVerify() throws Exception {
        KeyGeneration.Generated rsa = KeyGeneration.generate(dir, "Example.org", "r1", "rsa", 2048);
        KeyGeneration.Generated ed = KeyGeneration.generate(dir, "example.org", "e1", "ed25519", 0);
        assertThat(rsa.keyFile()).isEqualTo(dir.resolve("example.org/r1.pem"));
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(rsa.keyFile()))).isEqualTo("rw-------");
        assertThat(rsa.dnsRecord()).startsWith("r1._domainkey.example.org. IN TXT \"v=DKIM1; k=rsa; p=MII")
                .contains("\" \""); // 2048 bits need two strings of at most 255
        assertThat(ed.dnsRecord()).matches("e1\\._domainkey\\.example\\.org\\. IN TXT \"v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=\"");
        assertThat(Files.readString(dir.resolve("example.org/e1.txt"))).isEqualTo(ed.dnsRecord() + "\n");

        DkimKeys keys = DkimKeys.load(dir, DkimKeys.Settings.defaults());
        assertThat(keys.domains()).containsExactly("example.org");
        List<DkimSigner> signers = keys.forDomain("EXAMPLE.org");
        assertThat(signers).extracting(DkimSigner::algorithm)
                .containsExactly(DkimSigner.Algorithm.ED25519_SHA256, DkimSigner.Algorithm.RSA_SHA256);
        assertThat(keys.forDomain("other.example")).isEmpty();
        assertThat(keys.forDomainOrParent("relay.mx.example.org")).isEqualTo(signers);

        StringBuilder fields = new StringBuilder();
        for (DkimSigner s : signers) {
            fields.append(s.sign(MESSAGE, 1_780_000_000L));
        }
        byte[] head = fields.toString().getBytes(StandardCharsets.US_ASCII);
        byte[] signed = new byte[head.length + MESSAGE.length];
        System.arraycopy(head, 0, signed, 0, head.length);
        System.arraycopy(MESSAGE, 0, signed, head.length, MESSAGE.length);
        assertThat(Dkimpy.verify(signed, List.of(rsa.dnsRecord(), ed.dnsRecord()))).isEqualTo("pass pass");

        assertThatThrownBy(() -> KeyGeneration.generate(dir, "example.org", "r1", "rsa", 2048))
                .isInstanceOf(FileAlreadyExistsException.class);
        assertThatThrownBy(() -> KeyGeneration.generate(dir, "example.org", "r2", "rsa", 768)).hasMessageContaining("RFC 8301");
        assertThatThrownBy(() -> KeyGeneration.generate(dir, "example.org", "r2", "dsa", 0)).hasMessageContaining("rsa or ed25519");
    }

    /** Issue 30: a parent's key signs its subdomains' mail only where dkim.subdomains says so. */
    @Test
    void subdomainsAreSignedByTheirParentsKeysOnlyWhenListed() throws Exception {
        KeyGeneration.generate(dir, "example.org", "e1", "ed25519", 0);
        KeyGeneration.generate(dir, "news.example.org", "n1", "ed25519", 0);
        KeyGeneration.generate(dir, "other.org", "o1", "ed25519", 0);
        DkimKeys plain = DkimKeys.load(dir, DkimKeys.Settings.defaults());
        assertThat(plain.forFromDomain("mail.example.org")).isEmpty();
        assertThat(plain.forFromDomain("example.org")).extracting(DkimSigner::selector).containsExactly("e1");

        DkimKeys keys = plain.withSubdomains(Set.of("Example.ORG"));
        assertThat(keys.forFromDomain("a.b.Example.org")).extracting(DkimSigner::domain).containsExactly("example.org");
        assertThat(keys.forFromDomain("news.example.org")).as("its own key first").extracting(DkimSigner::selector)
                .containsExactly("n1");
        assertThat(keys.forFromDomain("x.news.example.org")).as("the nearest listed parent, not the nearest keyed one")
                .extracting(DkimSigner::selector).containsExactly("e1");
        assertThat(keys.forFromDomain("sub.other.org")).as("other.org is not listed").isEmpty();
        assertThat(keys.forFromDomain("badexample.org")).as("a suffix that is not a parent").isEmpty();
        assertThatThrownBy(() -> plain.withSubdomains(Set.of("missing.org"))).isInstanceOf(DkimKeyException.class)
                .hasMessageContaining("missing.org").hasMessageContaining("no key");
    }

    @Test
    void aBadKeyFileStopsTheStartNamedAndNeverQuoted() throws Exception {
        Path bad = dir.resolve("example.org/s1.pem");
        Files.createDirectories(bad.getParent());
        String secret = "-----BEGIN RSA PRIVATE KEY-----\nTOPSECRETSTUFF\n-----END RSA PRIVATE KEY-----\n";
        write(bad, secret);
        assertThatThrownBy(() -> DkimKeys.load(dir, DkimKeys.Settings.defaults())).isInstanceOf(DkimKeyException.class)
                .hasMessageContaining(bad.toString()).hasMessageContaining("PKCS#1").hasMessageNotContaining("TOPSECRET");

        write(bad, "-----BEGIN PRIVATE KEY-----\nTOPSECRET\n-----END PRIVATE KEY-----\n");
        assertThatThrownBy(() -> DkimKeys.load(dir, DkimKeys.Settings.defaults())).hasMessageContaining(bad.toString())
                .hasMessageNotContaining("TOPSECRET");

        KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
        g.initialize(768);
        write(bad, "-----BEGIN PRIVATE KEY-----\n" + Base64.getMimeEncoder().encodeToString(g.generateKeyPair().getPrivate().getEncoded())
                + "\n-----END PRIVATE KEY-----\n");
        assertThatThrownBy(() -> DkimKeys.load(dir, DkimKeys.Settings.defaults())).hasMessageContaining(bad.toString())
                .hasMessageContaining("RFC 8301");

        Files.delete(bad);
        Path open = KeyGeneration.generate(dir, "example.org", "s2", "ed25519", 0).keyFile();
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rw-r--r--"));
        assertThatThrownBy(() -> DkimKeys.load(dir, DkimKeys.Settings.defaults())).hasMessageContaining(open.toString())
                .hasMessageContaining("chmod 600");
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rw-r-----"));
        assertThat(DkimKeys.load(dir, DkimKeys.Settings.defaults()).forDomain("example.org")).hasSize(1);

        Files.createDirectories(dir.resolve("not_a_domain"));
        assertThatThrownBy(() -> DkimKeys.load(dir, DkimKeys.Settings.defaults())).hasMessageContaining("not_a_domain");
    }

    private static void write(Path file, String text) throws Exception {
        Files.writeString(file, text);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    }
}
