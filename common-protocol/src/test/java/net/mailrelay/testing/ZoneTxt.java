package net.mailrelay.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A TXT record from a zone line as {@code dkim keygen} prints it ({@code NAME. IN TXT "part" "part"}):
 * the owner name as written and the text, its quoted strings joined. The DKIM verifiers take the keys so.
 */
public record ZoneTxt(String name, String text) {

    private static final Pattern LINE = Pattern.compile("(\\S+)\\s+IN\\s+TXT\\s+(.*)");
    private static final Pattern STRING = Pattern.compile("\"([^\"]*)\"");

    public static ZoneTxt parse(String line) {
        Matcher m = LINE.matcher(line.trim());
        assertThat(m.matches()).as("a zone line: %s", line).isTrue();
        StringBuilder txt = new StringBuilder();
        Matcher s = STRING.matcher(m.group(2));
        while (s.find()) {
            txt.append(s.group(1));
        }
        return new ZoneTxt(m.group(1), txt.toString());
    }

    /** The owner name without the root's final dot. */
    public String relativeName() {
        return name.endsWith(".") ? name.substring(0, name.length() - 1) : name;
    }
}
