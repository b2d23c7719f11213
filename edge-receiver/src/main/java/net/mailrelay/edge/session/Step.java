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
     * Publish the message (trace header + content) and, once the queue acknowledges it or fails, call
     * {@link SmtpSession#published} or {@link SmtpSession#publishFailed}. No reply is sent yet.
     */
    record Publish(Envelope envelope, byte[] traceHeader) implements Step {
    }
}
