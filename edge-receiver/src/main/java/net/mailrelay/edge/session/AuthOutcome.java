package net.mailrelay.edge.session;

/** The answer to a credentials check. */
public enum AuthOutcome {
    /** The password matches. */
    ACCEPTED,
    /** Unknown user or wrong password. */
    REJECTED,
    /** This client has failed too often across the cluster; the check was not made. */
    THROTTLED,
    /** The check could not be made (the credential store or the cluster did not answer). */
    UNAVAILABLE
}
