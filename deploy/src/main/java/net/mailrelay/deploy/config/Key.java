package net.mailrelay.deploy.config;

import java.util.Objects;
import java.util.function.Function;

/**
 * One configuration key, declared once with its type, default and documentation (as Kafka's ConfigDef
 * declares each key): the same keys serve every role, in the file, in the environment and on the
 * command line.
 *
 * @param name the key, e.g. {@code smtp.port}
 * @param defaultValue the default as text, or null when the key has none (required where used)
 * @param parser turns the text into the value; throws IllegalArgumentException with the reason
 * @param doc one line for docs/configuration.md and {@code --help}
 */
public record Key<T>(String name, String defaultValue, Function<String, T> parser, String doc) {

    public Key {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(parser, "parser");
        Objects.requireNonNull(doc, "doc");
    }

    /** The environment variable that overrides this key: {@code MAILRELAY_SMTP_PORT} for {@code smtp.port}. */
    public String environmentVariable() {
        return "MAILRELAY_" + name.toUpperCase(java.util.Locale.ROOT).replace('.', '_').replace('-', '_');
    }

    T parse(String text) {
        try {
            return parser.apply(text.trim());
        } catch (RuntimeException e) {
            throw new ConfigException(name, text, e.getMessage());
        }
    }
}
