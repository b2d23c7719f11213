package net.mailrelay.bounce.dsn;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.james.mime4j.dom.Entity;
import org.apache.james.mime4j.dom.Header;
import org.apache.james.mime4j.dom.Message;
import org.apache.james.mime4j.dom.Multipart;
import org.apache.james.mime4j.dom.SingleBody;
import org.apache.james.mime4j.dom.field.ContentTypeField;
import org.apache.james.mime4j.message.DefaultMessageBuilder;
import org.apache.james.mime4j.stream.Field;

/** A notice parsed back with mime4j: its parts, and the field blocks of its delivery-status part. */
final class ParsedDsn {

    final Message message;
    final List<Entity> parts;

    ParsedDsn(byte[] dsn) throws IOException {
        message = new DefaultMessageBuilder().parseMessage(new ByteArrayInputStream(dsn));
        parts = message.getBody() instanceof Multipart m ? m.getBodyParts() : List.of();
    }

    String reportType() {
        return ((ContentTypeField) message.getHeader().getField("Content-Type")).getParameter("report-type");
    }

    List<String> partTypes() {
        return parts.stream().map(Entity::getMimeType).toList();
    }

    /** A single part's content as UTF-8 text (after any transfer decoding). */
    String text(int part) throws IOException {
        return new String(bytes(parts.get(part)), StandardCharsets.UTF_8);
    }

    /**
     * The delivery-status part as field blocks (RFC 3464 section 2.1): the per-message block first,
     * then one per recipient. mime4j parses each block as a header; values are unfolded.
     */
    List<Map<String, String>> statusBlocks() throws IOException {
        List<Map<String, String>> blocks = new ArrayList<>();
        for (String block : text(1).split("\r\n\r\n")) {
            if (block.isBlank()) {
                continue;
            }
            Header header = new DefaultMessageBuilder().parseHeader(
                    new ByteArrayInputStream((block + "\r\n\r\n").getBytes(StandardCharsets.UTF_8)));
            Map<String, String> fields = new LinkedHashMap<>();
            for (Field f : header.getFields()) {
                fields.put(f.getName(), f.getBody());
            }
            blocks.add(fields);
        }
        return blocks;
    }

    static byte[] bytes(Entity part) throws IOException {
        try (InputStream in = ((SingleBody) part.getBody()).getInputStream()) {
            return in.readAllBytes();
        }
    }
}
