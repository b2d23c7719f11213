package net.mailrelay.edge.session;

import java.util.Objects;

/**
 * What a listener offers and demands (Postfix's master.cf overrides for smtp, submission and
 * smtps).
 *
 * @param name for logs: "smtp", "submission", "submissions"
 * @param startTlsOffered STARTTLS is advertised (RFC 3207)
 * @param implicitTls the connection is TLS from its first byte (RFC 8314, port 465)
 * @param authOffered AUTH is advertised once the connection is encrypted (RFC 4954; never in plaintext)
 * @param authRequired MAIL is refused with 530 until the client has authenticated
 * @param submission message submission (RFC 6409): Message-ID and Date are added when missing
 * @param strictEnvelopes MAIL and RCPT addresses must be in angle brackets, else {@code 501 5.5.4}
 *     (Postfix's {@code strict_rfc821_envelopes}): on by default for MX, where only MTAs should talk and
 *     a bare address is a sign of spamware; off for submission, where a signed-in user's old device or
 *     script may still send one
 */
public record ListenerPolicy(String name, boolean startTlsOffered, boolean implicitTls, boolean authOffered,
        boolean authRequired, boolean submission, boolean strictEnvelopes) {

    public ListenerPolicy {
        Objects.requireNonNull(name, "name");
        if (startTlsOffered && implicitTls) {
            throw new IllegalArgumentException(name + ": STARTTLS makes no sense on an implicit-TLS listener");
        }
        if (authRequired && !authOffered) {
            throw new IllegalArgumentException(name + ": AUTH cannot be required where it is not offered");
        }
    }

    /** Port 25: STARTTLS offered, no AUTH, strict envelopes. */
    public static ListenerPolicy forMx(boolean startTls) {
        return new ListenerPolicy("smtp", startTls, false, false, false, false, true);
    }

    /** Port 587: STARTTLS, AUTH required before MAIL. */
    public static ListenerPolicy forSubmission() {
        return new ListenerPolicy("submission", true, false, true, true, true, false);
    }

    /** Port 465: implicit TLS, AUTH required before MAIL. */
    public static ListenerPolicy forSubmissions() {
        return new ListenerPolicy("submissions", false, true, true, true, true, false);
    }

    public ListenerPolicy withStrictEnvelopes(boolean strict) {
        return new ListenerPolicy(name, startTlsOffered, implicitTls, authOffered, authRequired, submission, strict);
    }
}
