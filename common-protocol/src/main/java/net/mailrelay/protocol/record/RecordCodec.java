package net.mailrelay.protocol.record;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;

/**
 * The value layout of every record the relay writes (format version 1, docs/record-format.md):
 *
 * <pre>
 *   byte     format version (1)
 *   int32    length N of the metadata, big-endian
 *   N bytes  metadata: UTF-8 JSON (an Envelope, a BounceRequest or a DeliveryEvent, by topic)
 *   rest     the message exactly as received, CRLF line endings, with the edge's Received: prepended
 * </pre>
 *
 * The message is raw bytes after a fixed-size prefix so that it is never re-encoded: what the client
 * sent is what the next hop receives.
 */
public final class RecordCodec {

    public static final byte FORMAT_VERSION = 1;
    public static final String FORMAT_HEADER_VALUE = Byte.toString(FORMAT_VERSION);

    private static final ObjectMapper JSON = JsonMapper.builder()
            // Newer writers may add fields; readers of the same format version ignore what they do not know.
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .build();

    private RecordCodec() {
    }

    /**
     * The largest record value for a given message size limit: the message plus room for the envelope
     * (1,000 recipients with DSN parameters fit in well under 1 MiB) and the trace header. Producers,
     * topics and consumers are all configured with this.
     */
    public static int maxRecordBytes(long maxMessageSize) {
        return Math.toIntExact(maxMessageSize + (1 << 20));
    }

    /** The prefix of a record value: version, length and metadata. The caller appends the message. */
    public static byte[] head(Object metadata) {
        byte[] json = json(metadata);
        ByteBuffer b = ByteBuffer.allocate(5 + json.length);
        b.put(FORMAT_VERSION).putInt(json.length).put(json);
        return b.array();
    }

    public static byte[] encode(Object metadata, byte[] message, int offset, int length) {
        byte[] json = json(metadata);
        ByteBuffer b = ByteBuffer.allocate(5 + json.length + length);
        b.put(FORMAT_VERSION).putInt(json.length).put(json).put(message, offset, length);
        return b.array();
    }

    public static byte[] encode(Object metadata) {
        return encode(metadata, new byte[0], 0, 0);
    }

    public static <T> Decoded<T> decode(byte[] value, Class<T> type) {
        if (value == null || value.length < 5) {
            throw new MalformedRecordException("record value too short to hold a header");
        }
        if (value[0] != FORMAT_VERSION) {
            throw new MalformedRecordException("unsupported record format version " + value[0]);
        }
        int n = ByteBuffer.wrap(value, 1, 4).getInt();
        if (n < 0 || n > value.length - 5) {
            throw new MalformedRecordException("metadata length " + n + " exceeds record size " + value.length);
        }
        try {
            T meta = JSON.readValue(value, 5, n, type);
            return new Decoded<>(meta, value, 5 + n);
        } catch (IOException e) {
            throw new MalformedRecordException("unreadable " + type.getSimpleName() + " metadata: " + e.getMessage());
        }
    }

    private static byte[] json(Object metadata) {
        try {
            return JSON.writeValueAsBytes(metadata);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A decoded record: its metadata and a view of the message bytes (not copied). */
    public record Decoded<T>(T metadata, byte[] value, int messageOffset) {

        public int messageLength() {
            return value.length - messageOffset;
        }

        public byte[] messageCopy() {
            return java.util.Arrays.copyOfRange(value, messageOffset, value.length);
        }
    }

    /** A record that no reader of this format can interpret; retrying will not help. */
    public static final class MalformedRecordException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public MalformedRecordException(String message) {
            super(message);
        }
    }
}
