package net.mailrelay.deploy.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * docs/configuration.md carries the table of every key, generated from {@link Keys}; this test fails
 * when the two differ. Regenerate with {@code mvn -pl deploy test -Dtest=ConfigurationDocTest -Dconfig.doc.update=true}.
 */
class ConfigurationDocTest {

    static final String BEGIN = "<!-- keys:begin (generated from Keys.java by ConfigurationDocTest) -->\n";
    static final String END = "<!-- keys:end -->\n";

    static String table() {
        return "| key | default | environment variable | meaning |\n|---|---|---|---|\n" + Keys.ALL.stream()
                .map(k -> "| `" + k.name() + "` | " + (k.defaultValue() == null ? "(required where used)"
                        : k.defaultValue().isEmpty() ? "(empty)" : "`" + k.defaultValue() + "`")
                        + " | `" + k.environmentVariable() + "` | " + k.doc().replace("|", "\\|") + " |")
                .collect(Collectors.joining("\n", "", "\n"));
    }

    @Test
    void documentsEveryKey() throws Exception {
        Path doc = Path.of("..", "docs", "configuration.md");
        String text = Files.readString(doc);
        int b = text.indexOf(BEGIN);
        int e = text.indexOf(END);
        assertThat(b).as("keys:begin marker in %s", doc).isNotNegative();
        assertThat(e).as("keys:end marker in %s", doc).isGreaterThan(b);
        String expected = table();
        if (Boolean.getBoolean("config.doc.update")) {
            Files.writeString(doc, text.substring(0, b + BEGIN.length()) + expected + text.substring(e));
            return;
        }
        assertThat(text.substring(b + BEGIN.length(), e)).isEqualTo(expected);
    }
}
