package net.mailrelay.edge.session;

import java.util.List;
import net.mailrelay.protocol.smtp.EnhancedStatus;
import net.mailrelay.protocol.smtp.Reply;
import net.mailrelay.protocol.smtp.ReplyCode;
import net.mailrelay.protocol.smtp.StatusDetail;

/**
 * Every reply the edge sends, in one place. Wording follows Postfix's smtpd where it has one, so that
 * postmasters and their scripts recognise it.
 */
public final class Replies {

    private Replies() {
    }

    private static Reply ok(StatusDetail d, String text) {
        return new Reply(ReplyCode.OK, EnhancedStatus.success(d), printable(text));
    }

    /** Longest reply text: with the code and status, a line stays under RFC 5321's 512 octets. */
    static final int MAX_TEXT = 400;

    /**
     * Reply text often quotes the client (an address, a parameter); what the client sent may hold CR, LF
     * or other control characters that must not reach the wire, and may be long. Found by fuzzing: a bare
     * CR inside a MAIL FROM: address made the reply itself throw, and the client got no answer.
     */
    static String printable(String text) {
        StringBuilder b = new StringBuilder(Math.min(text.length(), MAX_TEXT + 3));
        for (int i = 0; i < text.length() && b.length() < MAX_TEXT; i++) {
            char c = text.charAt(i);
            b.append(c < 0x20 || c == 0x7f ? '?' : c);
        }
        if (b.length() < text.length()) {
            b.append("...");
        }
        return b.toString();
    }

    private static Reply of(ReplyCode code, StatusDetail d, String text) {
        EnhancedStatus s = switch (code.kind()) {
            case 2 -> EnhancedStatus.success(d);
            case 4 -> EnhancedStatus.transientFailure(d);
            case 5 -> EnhancedStatus.permanentFailure(d);
            default -> null;
        };
        return new Reply(code, s, printable(text));
    }

    // Sequencing (RFC 5321 section 4.1.4); chosen by Transitions.
    static final Reply SEND_HELO_FIRST = of(ReplyCode.BAD_SEQUENCE, StatusDetail.INVALID_COMMAND, "Error: send HELO/EHLO first");
    static final Reply NESTED_MAIL = of(ReplyCode.BAD_SEQUENCE, StatusDetail.INVALID_COMMAND, "Error: nested MAIL command");
    static final Reply NEED_MAIL = of(ReplyCode.BAD_SEQUENCE, StatusDetail.INVALID_COMMAND, "Error: need MAIL command");
    static final Reply NEED_RCPT = of(ReplyCode.BAD_SEQUENCE, StatusDetail.INVALID_COMMAND, "Error: need RCPT command");
    static final Reply TX_IN_PROGRESS = of(ReplyCode.BAD_SEQUENCE, StatusDetail.INVALID_COMMAND, "Error: MAIL transaction in progress");
    static final Reply BDAT_IN_PROGRESS = of(ReplyCode.BAD_SEQUENCE, StatusDetail.INVALID_COMMAND, "Error: BDAT transfer in progress");

    // Plain commands.
    static final Reply OK = ok(StatusDetail.OTHER, "Ok");
    static final Reply SENDER_OK = ok(StatusDetail.OTHER_ADDRESS, "Ok");
    static final Reply RECIPIENT_OK = ok(StatusDetail.DESTINATION_VALID, "Ok");
    static final Reply BYE = new Reply(ReplyCode.SERVICE_CLOSING, EnhancedStatus.success(StatusDetail.OTHER), "Bye");
    static final Reply VRFY = new Reply(ReplyCode.CANNOT_VERIFY_USER, EnhancedStatus.success(StatusDetail.OTHER),
            "Send some mail, I'll try my best");
    static final Reply HELP = new Reply(ReplyCode.HELP_MESSAGE, EnhancedStatus.success(StatusDetail.OTHER),
            "See RFC 5321 (https://www.rfc-editor.org/rfc/rfc5321)");
    static final Reply START_DATA = new Reply(ReplyCode.START_MAIL_INPUT, null, "End data with <CR><LF>.<CR><LF>");

    // Syntax.
    static final Reply UNKNOWN_COMMAND = of(ReplyCode.SYNTAX_ERROR, StatusDetail.INVALID_COMMAND, "Error: command not recognized");
    static final Reply NOT_IMPLEMENTED = of(ReplyCode.COMMAND_NOT_IMPLEMENTED, StatusDetail.INVALID_COMMAND, "Error: command not implemented");
    public static final Reply LINE_TOO_LONG = of(ReplyCode.SYNTAX_ERROR, StatusDetail.LINE_TOO_LONG, "Error: line too long");
    static final Reply HELO_SYNTAX = of(ReplyCode.SYNTAX_ERROR_IN_PARAMETERS, StatusDetail.INVALID_ARGUMENTS, "Syntax: HELO hostname");
    static final Reply EHLO_SYNTAX = of(ReplyCode.SYNTAX_ERROR_IN_PARAMETERS, StatusDetail.INVALID_ARGUMENTS, "Syntax: EHLO hostname");
    static final Reply MAIL_SYNTAX = of(ReplyCode.SYNTAX_ERROR_IN_PARAMETERS, StatusDetail.INVALID_ARGUMENTS, "Syntax: MAIL FROM:<address>");
    static final Reply RCPT_SYNTAX = of(ReplyCode.SYNTAX_ERROR_IN_PARAMETERS, StatusDetail.INVALID_ARGUMENTS, "Syntax: RCPT TO:<address>");
    /** RFC 5321 section 4.1.2 puts a path in angle brackets; refused where envelopes are strict. */
    static final Reply PATH_WITHOUT_BRACKETS = of(ReplyCode.SYNTAX_ERROR_IN_PARAMETERS, StatusDetail.INVALID_ARGUMENTS,
            "Syntax error: address not enclosed in <>");
    static final Reply DATA_SYNTAX = of(ReplyCode.SYNTAX_ERROR_IN_PARAMETERS, StatusDetail.INVALID_ARGUMENTS, "Syntax: DATA");
    static final Reply NO_ARGUMENTS = of(ReplyCode.SYNTAX_ERROR_IN_PARAMETERS, StatusDetail.INVALID_ARGUMENTS, "Syntax: no arguments allowed");
    static final Reply BAD_SIZE = of(ReplyCode.SYNTAX_ERROR_IN_PARAMETERS, StatusDetail.INVALID_ARGUMENTS, "Bad message size syntax");
    static final Reply BAD_BODY = of(ReplyCode.SYNTAX_ERROR_IN_PARAMETERS, StatusDetail.INVALID_ARGUMENTS, "Bad BODY parameter");
    static final Reply BAD_RET = of(ReplyCode.SYNTAX_ERROR_IN_PARAMETERS, StatusDetail.INVALID_ARGUMENTS, "Bad RET parameter syntax");
    static final Reply BAD_ENVID = of(ReplyCode.SYNTAX_ERROR_IN_PARAMETERS, StatusDetail.INVALID_ARGUMENTS, "Bad ENVID parameter syntax");
    static final Reply BAD_NOTIFY = of(ReplyCode.SYNTAX_ERROR_IN_PARAMETERS, StatusDetail.INVALID_ARGUMENTS, "Bad NOTIFY parameter syntax");
    static final Reply BAD_ORCPT = of(ReplyCode.SYNTAX_ERROR_IN_PARAMETERS, StatusDetail.INVALID_ARGUMENTS, "Bad ORCPT parameter syntax");

    static Reply unsupportedParameter(String keyword) {
        return of(ReplyCode.PARAMETERS_NOT_RECOGNIZED, StatusDetail.INVALID_ARGUMENTS, "Unsupported option: " + keyword);
    }

    static Reply badSender(String why) {
        return of(ReplyCode.SYNTAX_ERROR_IN_PARAMETERS, StatusDetail.BAD_SENDER_SYNTAX, "Bad sender address syntax: " + why);
    }

    static Reply badRecipient(String why) {
        return of(ReplyCode.SYNTAX_ERROR_IN_PARAMETERS, StatusDetail.BAD_MAILBOX_SYNTAX, "Bad recipient address syntax: " + why);
    }

    static final Reply BDAT_SYNTAX = of(ReplyCode.SYNTAX_ERROR_IN_PARAMETERS, StatusDetail.INVALID_ARGUMENTS, "Syntax: BDAT count [LAST]");
    static final Reply STARTTLS_SYNTAX = of(ReplyCode.SYNTAX_ERROR_IN_PARAMETERS, StatusDetail.INVALID_ARGUMENTS, "Syntax: STARTTLS");
    static final Reply AUTH_SYNTAX = of(ReplyCode.SYNTAX_ERROR_IN_PARAMETERS, StatusDetail.INVALID_ARGUMENTS, "Syntax: AUTH mechanism [initial-response]");

    static Reply chunkReceived(long octets) {
        return ok(StatusDetail.OTHER, "Ok: " + octets + " octets received");
    }

    // TLS (RFC 3207).
    static final Reply START_TLS = new Reply(ReplyCode.SERVICE_READY, EnhancedStatus.success(StatusDetail.OTHER), "Ready to start TLS");
    static final Reply TLS_ALREADY_ACTIVE = of(ReplyCode.TRANSACTION_FAILED, StatusDetail.INVALID_COMMAND, "Error: TLS already active");

    // Authentication (RFC 4954).
    static final Reply AUTH_NOT_ENABLED = of(ReplyCode.BAD_SEQUENCE, StatusDetail.INVALID_COMMAND, "Error: authentication not enabled");
    static final Reply ALREADY_AUTHENTICATED = of(ReplyCode.BAD_SEQUENCE, StatusDetail.INVALID_COMMAND, "Error: already authenticated");
    static final Reply AUTH_MECHANISM = of(ReplyCode.PARAMETER_NOT_IMPLEMENTED, StatusDetail.INVALID_ARGUMENTS, "Unrecognized authentication type");
    static final Reply AUTH_OK = new Reply(ReplyCode.AUTHENTICATION_SUCCEEDED, EnhancedStatus.success(new StatusDetail(7, 0)),
            "Authentication successful");
    public static final Reply AUTH_FAILED = of(ReplyCode.AUTHENTICATION_FAILED, new StatusDetail(7, 8), "Error: authentication failed");
    static final Reply AUTH_ABORTED = of(ReplyCode.SYNTAX_ERROR_IN_PARAMETERS, StatusDetail.SECURITY_OTHER, "Authentication aborted");
    static final Reply AUTH_UNDECODABLE = of(ReplyCode.SYNTAX_ERROR_IN_PARAMETERS, StatusDetail.SYNTAX_ERROR, "Cannot decode response");
    static final Reply AUTH_REQUIRED = of(ReplyCode.AUTHENTICATION_REQUIRED, StatusDetail.SECURITY_OTHER, "Authentication required");
    static final Reply AUTH_THROTTLED = of(ReplyCode.SERVICE_NOT_AVAILABLE, StatusDetail.SECURITY_OTHER,
            "Error: too many authentication failures; try again later");
    static final Reply AUTH_UNAVAILABLE = of(ReplyCode.TEMPORARY_AUTHENTICATION_FAILURE, StatusDetail.SECURITY_OTHER,
            "Temporary authentication failure");

    static Reply challenge(String base64) {
        return new Reply(ReplyCode.SERVER_CHALLENGE, null, base64);
    }

    // Policy and limits.
    static Reply relayDenied(String recipient) {
        return of(ReplyCode.TRANSACTION_FAILED, StatusDetail.DELIVERY_NOT_AUTHORIZED, "<" + recipient + ">: Relay access denied");
    }

    static Reply suppressed(String recipient) {
        return of(ReplyCode.MAILBOX_UNAVAILABLE, StatusDetail.BAD_MAILBOX,
                "<" + recipient + ">: Recipient address rejected: it bounced as unknown lately (suppressed)");
    }

    static final Reply NON_ASCII_ADDRESS = of(ReplyCode.MAILBOX_NAME_NOT_ALLOWED, StatusDetail.NON_ASCII_ADDRESS_NOT_PERMITTED,
            "Non-ASCII address requires SMTPUTF8");
    static final Reply TOO_MANY_RECIPIENTS = of(ReplyCode.INSUFFICIENT_STORAGE, StatusDetail.TOO_MANY_RECIPIENTS,
            "Error: too many recipients");
    static final Reply MESSAGE_TOO_BIG = of(ReplyCode.EXCEEDED_STORAGE_ALLOCATION, StatusDetail.MESSAGE_TOO_BIG_FOR_SYSTEM,
            "Message size exceeds fixed limit");
    static final Reply TOO_MANY_ERRORS = of(ReplyCode.SERVICE_NOT_AVAILABLE, StatusDetail.SECURITY_OTHER,
            "Error: too many errors");
    static final Reply TOO_MANY_HOPS = of(ReplyCode.TRANSACTION_FAILED, StatusDetail.ROUTING_LOOP,
            "Error: too many hops (mail forwarding loop)");
    static final Reply BARE_LF = of(ReplyCode.MAILBOX_UNAVAILABLE, StatusDetail.SYNTAX_ERROR, "Error: bare <LF> received");
    public static final Reply TOO_MANY_CONNECTIONS = of(ReplyCode.SERVICE_NOT_AVAILABLE, StatusDetail.SECURITY_OTHER,
            "Error: too many connections");
    public static final Reply TOO_MANY_CONNECTIONS_FROM_CLIENT = of(ReplyCode.SERVICE_NOT_AVAILABLE, StatusDetail.SECURITY_OTHER,
            "Error: too many connections from your address");
    public static final Reply CONNECTION_RATE = of(ReplyCode.SERVICE_NOT_AVAILABLE, StatusDetail.SECURITY_OTHER,
            "Error: too many connections from your address in a short time; try again later");
    /** RFC 5321 3.8: a server that cannot take mail now says 421 and closes. */
    public static final Reply NOT_READY = of(ReplyCode.SERVICE_NOT_AVAILABLE, new StatusDetail(3, 2),
            "Service not available: the mail queue cannot be reached; try again later");
    public static final Reply IDLE_TIMEOUT = of(ReplyCode.SERVICE_NOT_AVAILABLE, StatusDetail.BAD_CONNECTION,
            "Error: timeout exceeded");

    // Queueing: 250 only after Kafka acknowledged the record (see SmtpSession#published).
    static Reply queued(String queueId) {
        return ok(StatusDetail.OTHER, "Ok: queued as " + queueId);
    }

    static final Reply QUEUE_UNAVAILABLE = of(ReplyCode.LOCAL_ERROR_IN_PROCESSING, StatusDetail.SYSTEM_OTHER,
            "Error: queue file write error, try again later");

    static Reply greeting(String hostname) {
        return new Reply(ReplyCode.SERVICE_READY, null, hostname + " ESMTP mail-relay");
    }

    static Reply ehlo(String hostname, List<String> extensions) {
        List<String> lines = new java.util.ArrayList<>();
        lines.add(hostname);
        lines.addAll(extensions);
        return new Reply(ReplyCode.OK, null, lines);
    }

    static Reply helo(String hostname) {
        return new Reply(ReplyCode.OK, null, hostname);
    }
}
