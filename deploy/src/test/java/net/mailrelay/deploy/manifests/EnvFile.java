package net.mailrelay.deploy.manifests;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** A Compose env_file: KEY=VALUE lines, '#' comments and blank lines. Quotes are not used in ours. */
final class EnvFile {

    private EnvFile() {
    }

    static Map<String, String> read(Path file) {
        Map<String, String> env = new LinkedHashMap<>();
        String[] lines = Repository.read(file).split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int eq = line.indexOf('=');
            if (eq <= 0) {
                throw new AssertionError(file + " line " + (i + 1) + ": expected KEY=VALUE, not '" + line + "'");
            }
            String value = line.substring(eq + 1);
            if (value.startsWith("\"") || value.startsWith("'")) {
                throw new AssertionError(file + " line " + (i + 1) + ": quoted values are read differently by Compose "
                        + "versions; write the value bare");
            }
            if (env.put(line.substring(0, eq), value) != null) {
                throw new AssertionError(file + " line " + (i + 1) + ": " + line.substring(0, eq) + " is set twice");
            }
        }
        return env;
    }
}
