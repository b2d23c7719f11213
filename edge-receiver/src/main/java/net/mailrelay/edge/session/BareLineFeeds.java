package net.mailrelay.edge.session;

/**
 * What to do with message lines ended by a bare LF (Postfix smtpd_forbid_bare_newline). Either way a
 * bare LF never ends the data, so SMTP smuggling (CVE-2023-51764) cannot pass through this relay.
 */
public enum BareLineFeeds {
    /** Refuse the message with 550 5.5.2 and hang up, as Postfix's "reject" does. */
    REJECT,
    /** Accept it and store each bare LF as CRLF. */
    NORMALIZE
}
