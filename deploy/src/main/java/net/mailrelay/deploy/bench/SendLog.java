package net.mailrelay.deploy.bench;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The load generator's CSV: one row per message tried, with the marker the sink will see, the queue id
 * from the 250 reply, when the final dot was sent (epoch microseconds, comparable with the sink's
 * arrival times on the same machine) and how long the reply took. A comment line before the header
 * carries the run's start time, from which the delivered rate is counted.
 */
final class SendLog {

    static final String HEADER = "seq,marker,queue_id,dot_epoch_us,accept_us,reply";

    /**
     * One message. {@code reply} is the reply code to the end of DATA, or where the transaction stopped
     * before it: {@code connect}, {@code greeting:421}, {@code mail:451}, {@code io}, ...
     */
    record Sent(int seq, String marker, String queueId, long dotEpochMicros, long acceptMicros, String reply) {
        Sent {
            if (marker.contains(",") || queueId.contains(",") || reply.contains(",")) {
                throw new IllegalArgumentException("CSV fields may not contain commas: " + marker + " " + queueId + " " + reply);
            }
        }

        boolean accepted() {
            return reply.equals("250");
        }
    }

    record Log(long startEpochMicros, List<Sent> rows) {
    }

    private SendLog() {
    }

    static void write(Path file, long startEpochMicros, List<Sent> rows) throws IOException {
        try (BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.US_ASCII)) {
            w.write("# start_epoch_us=" + startEpochMicros + "\n");
            w.write(HEADER + "\n");
            for (Sent s : rows) {
                if (s == null) {
                    continue;
                }
                w.write(s.seq() + "," + s.marker() + "," + s.queueId() + "," + s.dotEpochMicros() + "," + s.acceptMicros()
                        + "," + s.reply() + "\n");
            }
        }
    }

    static Log read(Path file) throws IOException {
        long start = -1;
        List<Sent> rows = new ArrayList<>();
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.US_ASCII)) {
            String line;
            while ((line = r.readLine()) != null) {
                if (line.startsWith("# start_epoch_us=")) {
                    start = Long.parseLong(line.substring("# start_epoch_us=".length()).trim());
                } else if (!line.isEmpty() && !line.startsWith("#") && !line.equals(HEADER)) {
                    String[] f = line.split(",", -1);
                    if (f.length != 6) {
                        throw new IOException(file + ": not a loadgen row: " + line);
                    }
                    rows.add(new Sent(Integer.parseInt(f[0]), f[1], f[2], Long.parseLong(f[3]), Long.parseLong(f[4]), f[5]));
                }
            }
        }
        if (start < 0) {
            throw new IOException(file + ": no '# start_epoch_us=' line; not written by bench loadgen");
        }
        return new Log(start, rows);
    }
}
