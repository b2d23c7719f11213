package net.mailrelay.protocol.dkim;

/** A DKIM key that cannot be used: the message names the file and why, never its contents. */
public final class DkimKeyException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public DkimKeyException(String message) {
        super(message);
    }
}
