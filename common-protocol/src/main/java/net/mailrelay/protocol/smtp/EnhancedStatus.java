package net.mailrelay.protocol.smtp;

import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** An RFC 3463 enhanced mail system status code, e.g. {@code 5.1.1}. */
public record EnhancedStatus(StatusClass statusClass, StatusDetail detail) {

    private static final Pattern SYNTAX = Pattern.compile("([245])\\.(\\d{1,3})\\.(\\d{1,3})");

    public EnhancedStatus {
        Objects.requireNonNull(statusClass, "statusClass");
        Objects.requireNonNull(detail, "detail");
    }

    public static EnhancedStatus success(StatusDetail detail) {
        return new EnhancedStatus(StatusClass.SUCCESS, detail);
    }

    public static EnhancedStatus transientFailure(StatusDetail detail) {
        return new EnhancedStatus(StatusClass.PERSISTENT_TRANSIENT_FAILURE, detail);
    }

    public static EnhancedStatus permanentFailure(StatusDetail detail) {
        return new EnhancedStatus(StatusClass.PERMANENT_FAILURE, detail);
    }

    /** Parses {@code "5.1.1"}; throws on anything else. */
    public static EnhancedStatus parse(String text) {
        Matcher m = SYNTAX.matcher(text);
        if (!m.matches()) {
            throw new IllegalArgumentException("not an enhanced status code: '" + text + "'");
        }
        return new EnhancedStatus(StatusClass.ofDigit(m.group(1).charAt(0) - '0'),
                new StatusDetail(Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3))));
    }

    /**
     * The enhanced status at the start of a reply text (RFC 2034 section 4), or null when the text does
     * not begin with one.
     */
    public static EnhancedStatus leadingIn(String replyText) {
        int space = replyText.indexOf(' ');
        String first = space < 0 ? replyText : replyText.substring(0, space);
        return SYNTAX.matcher(first).matches() ? parse(first) : null;
    }

    public boolean isPermanent() {
        return statusClass == StatusClass.PERMANENT_FAILURE;
    }

    @Override
    public String toString() {
        return statusClass.digit() + "." + detail;
    }
}
