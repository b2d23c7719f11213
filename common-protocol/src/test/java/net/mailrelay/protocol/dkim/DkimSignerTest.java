package net.mailrelay.protocol.dkim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import net.mailrelay.testing.Dkimpy;
import net.mailrelay.testing.OpenDkim;
import org.junit.jupiter.api.Test;

/**
 * Signatures checked by an independent implementation, dkimpy ({@link Dkimpy}), given the public key as
 * the DNS TXT record it would publish.
 * A body or a From changed after signing fails. The relaxed canonicalizations against RFC 6376's own
 * example (3.4.5).
 */
class DkimSignerTest {

    static final List<String> HEADERS = List.of("from", "to", "subject", "date", "message-id");
    static final String MESSAGE = "From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject:  a \t folded\r\n"
            + "\tsubject\r\nDate: Fri, 4 Dec 2026 21:00:00 +0000\r\nMessage-ID: <1@example.org>\r\n\r\n"
            + "Hello  Bob,\r\n\r\n\u00e9t\u00e9 \r\n\r\n\r\n";

    /**
     * What dkimpy and OpenDKIM say of each message, "dkimpy/opendkim": "pass/pass" when both verify it.
     * dkimpy checks them all in one run of python, whose start takes half a second.
     */
    static List<String> both(List<byte[]> signedMessages, String txtRecord) throws Exception {
        List<String> zone = List.of("sel._domainkey.example.org. IN TXT \"" + txtRecord + "\"");
        List<String> dkimpy = Dkimpy.verifyAll(signedMessages, zone);
        List<String> out = new java.util.ArrayList<>();
        for (int i = 0; i < signedMessages.size(); i++) {
            out.add(dkimpy.get(i) + "/" + OpenDkim.verify(signedMessages.get(i), zone));
        }
        return out;
    }

    static byte[] signed(DkimSigner signer, byte[] message) {
        byte[] field = signer.sign(message, 1_780_000_000L).getBytes(StandardCharsets.US_ASCII);
        byte[] out = Arrays.copyOf(field, field.length + message.length);
        System.arraycopy(message, 0, out, field.length, message.length);
        return out;
    }

    static void verifiesAndBreaks(KeyPair keys, String txt) throws Exception {
        byte[] message = MESSAGE.getBytes(StandardCharsets.UTF_8);
        DkimSigner signer = new DkimSigner("example.org", "sel", keys.getPrivate(), HEADERS, Set.of("from"), Duration.ZERO);
        byte[] signed = signed(signer, message);
        String text = new String(signed, StandardCharsets.UTF_8);
        List<String> verdicts = both(List.of(signed,
                text.replace("Hello  Bob", "Hello Eve").getBytes(StandardCharsets.UTF_8),
                text.replace("\r\n\r\nHello", "\r\nFrom: eve@example.com\r\n\r\nHello").getBytes(StandardCharsets.UTF_8),
                text.replace("Subject:  a \t folded\r\n\tsubject", "Subject: a folded subject").getBytes(StandardCharsets.UTF_8)), txt);
        assertThat(verdicts.get(0)).as(signer.algorithm().name()).isEqualTo("pass/pass");
        assertThat(verdicts.get(1)).as("body changed").isEqualTo("fail/fail");
        assertThat(verdicts.get(2)).as("a second From added (over-signed)").isEqualTo("fail/fail");
        assertThat(verdicts.get(3)).as("whitespace only: relaxed").isEqualTo("pass/pass");
    }

    @Test
    void rsaSha256VerifiesWithDkimpyAndOpenDkim() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
        g.initialize(2048);
        KeyPair keys = g.generateKeyPair();
        verifiesAndBreaks(keys, "v=DKIM1; k=rsa; p=" + Base64.getEncoder().encodeToString(keys.getPublic().getEncoded()));
    }

    @Test
    void ed25519Sha256VerifiesWithDkimpyAndOpenDkim() throws Exception {
        KeyPair keys = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
        byte[] spki = keys.getPublic().getEncoded(); // RFC 8463: the DNS record holds the raw 32-byte key
        byte[] raw = Arrays.copyOfRange(spki, spki.length - 32, spki.length);
        verifiesAndBreaks(keys, "v=DKIM1; k=ed25519; p=" + Base64.getEncoder().encodeToString(raw));
    }

    @Test
    void shortRsaKeysAndUnsignedFromAreRefused() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
        g.initialize(768);
        KeyPair weak = g.generateKeyPair();
        assertThatThrownBy(() -> new DkimSigner("example.org", "sel", weak.getPrivate(), HEADERS, Set.of("from"), Duration.ZERO)).hasMessageContaining("RFC 8301");
        KeyPair ed = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
        assertThatThrownBy(() -> new DkimSigner("example.org", "sel", ed.getPrivate(), List.of("to"), Set.of(), Duration.ZERO))
                .hasMessageContaining("From");
    }

    @Test
    void everyInstancePresentIsSignedFromOnceMoreAndTheExpiryIsSetWhenAsked() throws Exception {
        KeyPair keys = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
        DkimSigner signer = new DkimSigner("Example.ORG", "sel", keys.getPrivate(), List.of("from", "cc", "received"),
                Set.of("from"), Duration.ofDays(7));
        String m = "Received: a\r\nReceived: b\r\nFrom: a@example.org\r\n\r\nbody\r\n";
        String field = signer.sign(m.getBytes(StandardCharsets.US_ASCII), 1_780_000_000L).replace("\r\n\t", " ");
        assertThat(field).contains("d=example.org;").contains("h=from:from:received:received;")
                .contains("t=1780000000; x=1780604800;").doesNotContain("cc");
        DkimSigner forever = new DkimSigner("example.org", "sel", keys.getPrivate(), HEADERS, Set.of("from"), Duration.ZERO);
        assertThat(forever.sign(m.getBytes(StandardCharsets.US_ASCII), 1L)).doesNotContain("x=");
    }

    /**
     * Issue 30's review: relaxed header canonicalization removes only spaces and tabs (VT, FF and 0x1C-0x1F
     * stay and are hashed); a message that is all header with no final CRLF (BDAT can make one) keeps its
     * last field whole; a bare LF in the header block ends a line, as it does for the verifier. Each
     * message, signed with both algorithms, must verify with dkimpy and OpenDKIM.
     */
    @Test
    void edgeCasesOfTheHeaderBlockVerifyWithDkimpyAndOpenDkim() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
        g.initialize(2048);
        KeyPair rsa = g.generateKeyPair();
        KeyPair ed = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
        byte[] spki = ed.getPublic().getEncoded();
        Map<KeyPair, String> records = Map.of(
                rsa, "v=DKIM1; k=rsa; p=" + Base64.getEncoder().encodeToString(rsa.getPublic().getEncoded()),
                ed, "v=DKIM1; k=ed25519; p=" + Base64.getEncoder().encodeToString(Arrays.copyOfRange(spki, spki.length - 32, spki.length)));
        Map<String, String> messages = Map.of(
                "controls at a value's ends", "From: alice@example.org\r\nSubject: \u001ftail\u001c\u001d \r\n\r\nbody\r\n",
                "all header, no final CRLF", "From: alice@example.org\r\nTo: bob@example.net\r\nSubject: no body",
                "all header, final CRLF", "From: alice@example.org\r\nSubject: no body\r\n",
                "a bare LF in the header", "From: alice@example.org\nSubject: bare\r\nTo: bob@example.net\r\n\r\nbody\r\n",
                "a bare LF blank line", "From: alice@example.org\r\nSubject: bare\n\nbody\n");
        for (KeyPair keys : records.keySet()) {
            DkimSigner signer = new DkimSigner("example.org", "sel", keys.getPrivate(), HEADERS, Set.of("from"), Duration.ZERO);
            List<String> names = List.copyOf(messages.keySet());
            List<String> verdicts = both(names.stream().map(what -> signed(signer, messages.get(what)
                    .getBytes(StandardCharsets.ISO_8859_1))).toList(), records.get(keys));
            for (int i = 0; i < names.size(); i++) {
                assertThat(verdicts.get(i)).as("%s, %s", names.get(i), signer.algorithm()).isEqualTo("pass/pass");
            }
        }
        // VT and FF are not WSP either, but both verifiers take them for white space, each in a way of its
        // own (dkimpy strips them at a value's ends, OpenDKIM turns them into a space, as C's isspace says):
        // no canonicalization satisfies both, so the signer keeps to RFC 6376 and is not tested on them.
        assertThat(DkimSigner.fields("From: a\nSubject: b".getBytes(StandardCharsets.US_ASCII), 18))
                .containsExactly("From: a", "Subject: b");
        assertThat(Canonical.header("Subject: \u000bx\u001f\t ")).isEqualTo("subject:\u000bx\u001f");
    }

    /** RFC 6376 3.4.5's example, relaxed: the header fields and the body it gives. */
    @Test
    void relaxedCanonicalizationAsInTheRfcExample() {
        assertThat(Canonical.header("A: X")).isEqualTo("a:X");
        assertThat(Canonical.header("B : Y\t\r\n\tZ  ")).isEqualTo("b:Y Z");
        byte[] m = "A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
        assertThat(new String(Canonical.body(m, DkimSigner.bodyStart(m)), StandardCharsets.US_ASCII)).isEqualTo(" C\r\nD E\r\n");
        assertThat(Canonical.body("\r\n\r\n".getBytes(StandardCharsets.US_ASCII), 0)).as("empty body").isEmpty();
        assertThat(new String(Canonical.body("no end".getBytes(StandardCharsets.US_ASCII), 0), StandardCharsets.US_ASCII))
                .isEqualTo("no end\r\n");
    }
}
