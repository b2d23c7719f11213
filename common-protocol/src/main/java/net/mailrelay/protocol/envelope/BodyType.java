package net.mailrelay.protocol.envelope;

/** The BODY parameter of MAIL FROM (RFC 6152 and RFC 3030). */
public enum BodyType {
    SEVEN_BIT("7BIT"), EIGHT_BIT_MIME("8BITMIME"), BINARY_MIME("BINARYMIME");

    private final String keyword;

    BodyType(String keyword) {
        this.keyword = keyword;
    }

    public String keyword() {
        return keyword;
    }

    public static BodyType ofKeyword(String keyword) {
        for (BodyType b : values()) {
            if (b.keyword.equalsIgnoreCase(keyword)) {
                return b;
            }
        }
        throw new IllegalArgumentException("unknown BODY value '" + keyword + "'");
    }
}
