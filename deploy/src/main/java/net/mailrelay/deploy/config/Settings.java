package net.mailrelay.deploy.config;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.TreeSet;

/**
 * The resolved configuration of one process, built once at start and never changed. Each key's value
 * comes from, in rising precedence: its default, the role's default, the configuration file (Java
 * properties), the environment ({@code MAILRELAY_SMTP_PORT} for {@code smtp.port}), the command line.
 * An unknown key in the file or the environment, or a value that does not parse, stops the start with
 * a message that names the key.
 */
public final class Settings {

    private final Map<String, String> values;
    private final Map<String, Object> parsed = new HashMap<>();

    private Settings(Map<String, String> values) {
        this.values = values;
        for (Key<?> key : Keys.ALL) {
            String text = values.get(key.name());
            if (text != null) {
                parsed.put(key.name(), key.parse(text));
            }
        }
    }

    public static Settings resolve(Map<String, String> roleDefaults, Path file, Map<String, String> environment,
            Map<String, String> commandLine) {
        Map<String, String> v = new LinkedHashMap<>();
        for (Key<?> key : Keys.ALL) {
            if (key.defaultValue() != null) {
                v.put(key.name(), key.defaultValue());
            }
        }
        putAll(v, roleDefaults, "role default");
        if (file != null) {
            putAll(v, readFile(file), "file " + file);
        }
        putAll(v, fromEnvironment(environment), "environment");
        putAll(v, commandLine, "command line");
        return new Settings(v);
    }

    /** Settings from explicit values only (defaults included), for tests and embedding. */
    public static Settings of(Map<String, String> values) {
        return resolve(Map.of(), null, Map.of(), values);
    }

    @SuppressWarnings("unchecked")
    public <T> T get(Key<T> key) {
        if (!parsed.containsKey(key.name())) {
            throw new ConfigException(key.name(), null, "required here, but not set (" + key.doc() + ")");
        }
        return (T) parsed.get(key.name());
    }

    /** The values of the keys under {@code prefix}, by what follows it: the Kafka pass-through properties. */
    public Map<String, String> under(String prefix) {
        Map<String, String> out = new java.util.TreeMap<>();
        values.forEach((k, v) -> {
            if (k.startsWith(prefix)) {
                out.put(k.substring(prefix.length()), v);
            }
        });
        return out;
    }

    public boolean isSet(Key<?> key) {
        String v = values.get(key.name());
        return v != null && !v.isBlank();
    }

    private static void putAll(Map<String, String> into, Map<String, String> from, String source) {
        from.forEach((k, value) -> {
            if (k.startsWith(Keys.KAFKA_CLIENT_PREFIX) && k.length() > Keys.KAFKA_CLIENT_PREFIX.length()) {
                into.put(k, value);
                return;
            }
            if (Keys.ALL.stream().noneMatch(key -> key.name().equals(k))) {
                throw new ConfigException("unknown configuration key '" + k + "' in " + source + "; known keys: "
                        + new TreeSet<>(Keys.ALL.stream().map(Key::name).toList()));
            }
            into.put(k, value);
        });
    }

    private static Map<String, String> readFile(Path file) {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            p.load(r);
        } catch (IOException e) {
            throw new ConfigException("cannot read configuration file " + file + ": " + e.getMessage());
        }
        Map<String, String> out = new LinkedHashMap<>();
        p.stringPropertyNames().forEach(k -> out.put(k, p.getProperty(k)));
        return out;
    }

    private static Map<String, String> fromEnvironment(Map<String, String> env) {
        Map<String, String> out = new LinkedHashMap<>();
        env.forEach((name, value) -> {
            if (!name.startsWith("MAILRELAY_")) {
                return;
            }
            String prefix = "MAILRELAY_" + Keys.KAFKA_CLIENT_PREFIX.toUpperCase(java.util.Locale.ROOT).replace('.', '_');
            if (name.startsWith(prefix) && name.length() > prefix.length()) {
                out.put(Keys.KAFKA_CLIENT_PREFIX + name.substring(prefix.length()).toLowerCase(java.util.Locale.ROOT).replace('_', '.'),
                        value);
                return;
            }
            Key<?> key = Keys.ALL.stream().filter(k -> k.environmentVariable().equals(name)).findFirst()
                    .orElseThrow(() -> new ConfigException("unknown environment variable " + name
                            + " (MAILRELAY_* variables must name a configuration key)"));
            out.put(key.name(), value);
        });
        return out;
    }
}
