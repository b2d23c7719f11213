package net.mailrelay.delivery.smtp;

import java.time.Duration;
import java.util.Objects;

/**
 * Per-stage client timeouts, RFC 5321 section 4.5.3.2 (Postfix smtp_*_timeout): connect 30 s, greeting
 * 300 s, MAIL and RCPT 300 s, DATA initiation 120 s, data block 180 s, final dot 600 s.
 */
public record Timeouts(Duration connect, Duration greeting, Duration command, Duration dataInit,
        Duration dataBlock, Duration finalDot) {

    public static final Timeouts RFC_5321 = new Timeouts(Duration.ofSeconds(30), Duration.ofMinutes(5),
            Duration.ofMinutes(5), Duration.ofMinutes(2), Duration.ofMinutes(3), Duration.ofMinutes(10));

    public Timeouts {
        Objects.requireNonNull(connect, "connect");
        Objects.requireNonNull(greeting, "greeting");
        Objects.requireNonNull(command, "command");
        Objects.requireNonNull(dataInit, "dataInit");
        Objects.requireNonNull(dataBlock, "dataBlock");
        Objects.requireNonNull(finalDot, "finalDot");
    }

    /**
     * The longest one session may take with every stage at its limit (35.5 minutes with the defaults):
     * the bound on a delivery thread stuck with one server.
     */
    public Duration sessionLimit() {
        return connect.plus(greeting).plus(command.multipliedBy(3)).plus(dataInit).plus(dataBlock).plus(finalDot);
    }

    /**
     * How long a delivery claim lasts: twice the session limit (71 minutes with the defaults). A delivery
     * renews its claims before a session once a session limit has passed, so a claim never runs out
     * under a delivery that is still going, however many servers and domains it tries.
     */
    public Duration claimLease() {
        return sessionLimit().multipliedBy(2);
    }

    Duration forStage(Stage stage) {
        return switch (stage) {
            case CONNECT -> connect;
            case GREETING -> greeting;
            case DATA -> dataInit;
            case DOT -> finalDot;
            default -> command;
        };
    }
}
