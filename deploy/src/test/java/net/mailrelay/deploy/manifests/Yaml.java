package net.mailrelay.deploy.manifests;

import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads the deployment YAML (compose, Kubernetes, Prometheus, Grafana provisioning) strictly: every
 * document of a multi-document file, a duplicate key is an error, and so are anchors, aliases and
 * merge keys. Jackson's YAML parser does not expand aliases (it would hand back the anchor's name as a
 * string), so the files are written without them and this check keeps them so.
 */
final class Yaml {

    private static final YAMLFactory FACTORY = YAMLFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();
    private static final ObjectMapper MAPPER = new ObjectMapper(FACTORY);

    private Yaml() {
    }

    /** Every non-empty document of the file, each a mapping. */
    static List<JsonNode> documents(Path file) {
        refuseAliases(file);
        List<JsonNode> docs = new ArrayList<>();
        try (YAMLParser parser = FACTORY.createParser(file.toFile());
                MappingIterator<JsonNode> it = MAPPER.readerFor(JsonNode.class).readValues(parser)) {
            while (it.hasNextValue()) {
                JsonNode doc = it.nextValue();
                if (doc == null || doc.isNull() || doc.isMissingNode()) {
                    continue;
                }
                if (!doc.isObject()) {
                    throw new AssertionError(file + ": a document is not a mapping: " + doc);
                }
                docs.add(doc);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": " + e.getMessage(), e);
        }
        return docs;
    }

    /** The one document of a single-document file. */
    static JsonNode document(Path file) {
        List<JsonNode> docs = documents(file);
        if (docs.size() != 1) {
            throw new AssertionError(file + ": expected one YAML document, found " + docs.size());
        }
        return docs.get(0);
    }

    private static void refuseAliases(Path file) {
        try (YAMLParser p = FACTORY.createParser(file.toFile())) {
            JsonToken t;
            while ((t = p.nextToken()) != null) {
                if (p.isCurrentAlias() || p.getObjectId() != null) {
                    throw new AssertionError(file + " line " + p.currentLocation().getLineNr()
                            + ": YAML anchors and aliases are not used in these files; write the value out");
                }
                if (t == JsonToken.FIELD_NAME && p.currentName().equals("<<")) {
                    throw new AssertionError(file + " line " + p.currentLocation().getLineNr()
                            + ": YAML merge keys (<<) are not used in these files; write the keys out");
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": " + e.getMessage(), e);
        }
    }

    /** The text of a scalar that must be a YAML string (Kubernetes refuses numbers and booleans there). */
    static String string(JsonNode node, String what) {
        if (node == null || !node.isTextual()) {
            throw new AssertionError(what + " must be a quoted string, not " + node);
        }
        return node.asText();
    }
}
