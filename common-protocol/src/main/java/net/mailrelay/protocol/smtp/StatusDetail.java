package net.mailrelay.protocol.smtp;

/**
 * The subject.detail part of an RFC 3463 enhanced status code, kept apart from its class so that a
 * subject can never be passed where a class belongs.
 */
public record StatusDetail(int subject, int detail) {

    public StatusDetail {
        if (subject < 0 || subject > 999 || detail < 0 || detail > 999) {
            throw new IllegalArgumentException("status subject.detail out of range: " + subject + "." + detail);
        }
    }

    // RFC 3463 section 3 subjects that this relay produces.
    public static final StatusDetail OTHER = new StatusDetail(0, 0);
    public static final StatusDetail OTHER_ADDRESS = new StatusDetail(1, 0);
    public static final StatusDetail BAD_MAILBOX = new StatusDetail(1, 1);
    public static final StatusDetail BAD_DESTINATION_SYSTEM = new StatusDetail(1, 2);
    public static final StatusDetail BAD_MAILBOX_SYNTAX = new StatusDetail(1, 3);
    public static final StatusDetail DESTINATION_VALID = new StatusDetail(1, 5);
    public static final StatusDetail BAD_SENDER_SYNTAX = new StatusDetail(1, 7);
    public static final StatusDetail BAD_SENDER_SYSTEM = new StatusDetail(1, 8);
    public static final StatusDetail NULL_MX = new StatusDetail(1, 10);
    public static final StatusDetail SENDER_VALID = new StatusDetail(1, 0);
    public static final StatusDetail MAILBOX_FULL = new StatusDetail(2, 2);
    public static final StatusDetail MESSAGE_TOO_BIG_FOR_MAILBOX = new StatusDetail(2, 3);
    public static final StatusDetail SYSTEM_OTHER = new StatusDetail(3, 0);
    public static final StatusDetail MESSAGE_TOO_BIG_FOR_SYSTEM = new StatusDetail(3, 4);
    public static final StatusDetail NETWORK_OTHER = new StatusDetail(4, 0);
    public static final StatusDetail NO_ANSWER = new StatusDetail(4, 1);
    public static final StatusDetail BAD_CONNECTION = new StatusDetail(4, 2);
    public static final StatusDetail ROUTING_SERVER_FAILURE = new StatusDetail(4, 3);
    public static final StatusDetail UNABLE_TO_ROUTE = new StatusDetail(4, 4);
    public static final StatusDetail ROUTING_LOOP = new StatusDetail(4, 6);
    public static final StatusDetail DELIVERY_TIME_EXPIRED = new StatusDetail(4, 7);
    public static final StatusDetail PROTOCOL_OTHER = new StatusDetail(5, 0);
    public static final StatusDetail INVALID_COMMAND = new StatusDetail(5, 1);
    public static final StatusDetail SYNTAX_ERROR = new StatusDetail(5, 2);
    public static final StatusDetail TOO_MANY_RECIPIENTS = new StatusDetail(5, 3);
    public static final StatusDetail INVALID_ARGUMENTS = new StatusDetail(5, 4);
    public static final StatusDetail WRONG_PROTOCOL_VERSION = new StatusDetail(5, 5);
    public static final StatusDetail LINE_TOO_LONG = new StatusDetail(5, 6);
    public static final StatusDetail MEDIA_NOT_SUPPORTED = new StatusDetail(6, 0);
    public static final StatusDetail CONVERSION_REQUIRED_NOT_POSSIBLE = new StatusDetail(6, 3);
    public static final StatusDetail NON_ASCII_ADDRESS_NOT_PERMITTED = new StatusDetail(6, 7);
    public static final StatusDetail SECURITY_OTHER = new StatusDetail(7, 0);
    public static final StatusDetail DELIVERY_NOT_AUTHORIZED = new StatusDetail(7, 1);

    @Override
    public String toString() {
        return subject + "." + detail;
    }
}
