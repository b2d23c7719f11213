package net.mailrelay.edge.session;

/** The argument of BDAT (RFC 3030 section 2): {@code octets [LAST]}; null from parse when malformed. */
record BdatArgument(long octets, boolean last) {

    static BdatArgument parse(String argument) {
        String[] words = argument.trim().split(" +");
        if (words.length < 1 || words.length > 2 || words[0].isEmpty() || words[0].length() > 18
                || !words[0].chars().allMatch(c -> c >= '0' && c <= '9')
                || (words.length == 2 && !words[1].equalsIgnoreCase("LAST"))) {
            return null;
        }
        return new BdatArgument(Long.parseLong(words[0]), words.length == 2);
    }
}
