package net.mailrelay.edge.session;

import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.smtp.Reply;

/** What the network layer must do after the session has handled an input. */
public sealed interface Step {

    /** Send the reply and read the next command. */
    record Respond(Reply reply) implements Step {
    }

    /** Send the reply and close the connection. */
    record RespondAndClose(Reply reply) implements Step {
    }

    /** Send the 354 reply and read message content until the end-of-data line. */
    record ReceiveData(Reply reply) implements Step {
    }

    /**
     * Read exactly {@code octets} bytes of message content (a BDAT chunk, RFC 3030), then call
     * {@link SmtpSession#chunkEnded}. No reply is sent before that. {@code first} starts a new message.
     */
    record ReceiveChunk(long octets, boolean first) implements Step {
    }

    /** Read and drop a BDAT chunk the session refused, then send the reply (RFC 3030 section 3). */
    record DiscardChunk(long octets, Reply reply) implements Step {
    }

    /**
     * Stop reading, drop whatever plaintext already arrived (it could be injected, CVE-2011-0411), put TLS
     * on the connection so that the reply below is the last plaintext, send it, and call
     * {@link SmtpSession#tlsEstablished} once the handshake completes.
     */
    record StartTls(Reply reply) implements Step {
    }

    /**
     * Check the credentials away from the event loop (slow hashing, cluster-wide failure counts) and call
     * {@link SmtpSession#authenticated} with the outcome. The password must be cleared after use.
     */
    record Authenticate(String user, char[] password) implements Step {
        @Override
        public String toString() {
            return "Authenticate[user=" + user + ", password=(hidden)]";
        }
    }

    /**
     * Publish the message (trace headers + content) and, once the queue acknowledges it or fails, call
     * {@link SmtpSession#published} or {@link SmtpSession#publishFailed}. No reply is sent yet.
     */
    record Publish(Envelope envelope, byte[] traceHeader) implements Step {
    }
}
