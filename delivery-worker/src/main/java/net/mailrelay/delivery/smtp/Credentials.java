package net.mailrelay.delivery.smtp;

import java.util.Objects;

/** SMTP AUTH credentials for a smarthost (Postfix smtp_sasl_password_maps). Never logged. */
public record Credentials(String user, String password) {

    public Credentials {
        Objects.requireNonNull(user, "user");
        Objects.requireNonNull(password, "password");
    }

    @Override
    public String toString() {
        return "Credentials[user=" + user + ", password=(hidden)]";
    }
}
