package net.mailrelay.protocol.smtp;

/** A path or mailbox that does not follow RFC 5321 section 4.1.2. */
public class AddressSyntaxException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    public AddressSyntaxException(String message) {
        super(message);
    }
}
