package net.mailrelay.protocol.smtp;

/** RFC 5321 section 4.2.3 reply codes, named after the RFC's wording. */
public enum ReplyCode {
    SYSTEM_STATUS(211),
    HELP_MESSAGE(214),
    SERVICE_READY(220),
    SERVICE_CLOSING(221),
    AUTHENTICATION_SUCCEEDED(235),
    OK(250),
    USER_NOT_LOCAL_WILL_FORWARD(251),
    CANNOT_VERIFY_USER(252),
    SERVER_CHALLENGE(334),
    START_MAIL_INPUT(354),
    SERVICE_NOT_AVAILABLE(421),
    MAILBOX_UNAVAILABLE_TRANSIENT(450),
    LOCAL_ERROR_IN_PROCESSING(451),
    INSUFFICIENT_STORAGE(452),
    TEMPORARY_AUTHENTICATION_FAILURE(454),
    SYNTAX_ERROR(500),
    SYNTAX_ERROR_IN_PARAMETERS(501),
    COMMAND_NOT_IMPLEMENTED(502),
    BAD_SEQUENCE(503),
    PARAMETER_NOT_IMPLEMENTED(504),
    AUTHENTICATION_REQUIRED(530),
    AUTHENTICATION_FAILED(535),
    MAILBOX_UNAVAILABLE(550),
    USER_NOT_LOCAL(551),
    EXCEEDED_STORAGE_ALLOCATION(552),
    MAILBOX_NAME_NOT_ALLOWED(553),
    TRANSACTION_FAILED(554),
    PARAMETERS_NOT_RECOGNIZED(555);

    private final int code;

    ReplyCode(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }

    /** The first digit: 2 positive completion, 3 intermediate, 4 transient, 5 permanent. */
    public int kind() {
        return code / 100;
    }

    public static ReplyCode of(int code) {
        for (ReplyCode c : values()) {
            if (c.code == code) {
                return c;
            }
        }
        throw new IllegalArgumentException("unknown SMTP reply code " + code);
    }
}
