package net.mailrelay.deploy.config;

/** A configuration problem, reported at start with the key it concerns. */
public final class ConfigException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public ConfigException(String key, String value, String why) {
        super("configuration key '" + key + "'" + (value == null ? "" : " = '" + value + "'") + ": " + why);
    }

    public ConfigException(String message) {
        super(message);
    }
}
