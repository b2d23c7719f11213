package net.mailrelay.deploy.cluster;

import com.hazelcast.core.EntryEvent;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import com.hazelcast.map.listener.EntryAddedListener;
import com.hazelcast.map.listener.EntryUpdatedListener;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import net.mailrelay.protocol.dkim.DkimKeys;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code queue reload-dkim} across the cluster: the worker that the command reaches writes a request
 * into a Hazelcast map, and every process that signs (edges, standalone) reads its own {@code dkim.key-dir}
 * again, checks every key as at start, and only then signs with the new set; on any error it keeps the
 * keys it had and says why. Each answers in a second map, which the requester reads back for the
 * operator. A process holds its files itself (a Kubernetes Secret mounted on each pod): nothing of a key
 * travels through Hazelcast, only the request's time and a one-line answer.
 *
 * <p>What comes from Hazelcast is untrusted: a request is only ever a reason to read the local files again
 * (at most one reading at a time, and requests that arrive meanwhile are folded into one), and an answer
 * is only shown to the operator, cut to {@link #MAX_ANSWER} characters.
 */
public final class DkimReload implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(DkimReload.class);
    public static final String REQUESTS = "mailrelay.dkim-reload";
    public static final String ANSWERS = "mailrelay.dkim-reload.answers";
    static final int MAX_ANSWER = 500;
    private static final String KEY = "all";
    /**
     * How long a signer's answer (and its registration) stays. The requester only counts the answers of
     * members still in the cluster, so what a crashed process left behind is ignored until it expires.
     */
    private static final Duration KEPT = Duration.ofDays(1);

    /** A signer's answer to request {@code requested}: "ok" with what now signs, or why the old keys stay. */
    public record Answer(long requested, boolean ok, String text) {
        static Answer parse(String value) {
            String v = value == null ? "" : value.length() > MAX_ANSWER ? value.substring(0, MAX_ANSWER) : value;
            String[] parts = v.split(" ", 3);
            try {
                return new Answer(Long.parseLong(parts[0]), parts.length > 1 && parts[1].equals("ok"), parts.length > 2 ? parts[2] : "");
            } catch (NumberFormatException e) {
                return new Answer(-1, false, "unreadable answer");
            }
        }

        String value() {
            String line = requested + (ok ? " ok " : " error ") + text.replace('\n', ' ');
            return line.length() > MAX_ANSWER ? line.substring(0, MAX_ANSWER) : line;
        }
    }

    private final HazelcastInstance hazelcast;
    private final IMap<String, Long> requests;
    private final IMap<String, String> answers;
    private final String name;
    private final UUID listener;
    private final ExecutorService reader;

    /** For the requester only (a worker): no keys of its own. */
    public static DkimReload requester(HazelcastInstance hazelcast) {
        return new DkimReload(hazelcast, null, null, null);
    }

    /**
     * For a process that signs: {@code load} reads and checks {@code dkim.key-dir} as at start, throwing
     * with the reason when anything is wrong; {@code keys} is what the process signs with.
     *
     * @param name this process in the answers: its hostname and role
     */
    public static DkimReload signer(HazelcastInstance hazelcast, String name, Supplier<DkimKeys> load, DkimKeys keys) {
        return new DkimReload(hazelcast, name, load, keys);
    }

    private DkimReload(HazelcastInstance hazelcast, String name, Supplier<DkimKeys> load, DkimKeys keys) {
        this.hazelcast = hazelcast;
        this.requests = hazelcast.getMap(REQUESTS);
        this.answers = hazelcast.getMap(ANSWERS);
        this.name = name == null ? null : name + " " + hazelcast.getCluster().getLocalMember().getUuid().toString().substring(0, 8);
        if (load == null) {
            listener = null;
            reader = null;
            return;
        }
        reader = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "dkim-reload");
            t.setDaemon(true);
            return t;
        });
        answer(new Answer(0, true, keys.describe()));
        Object lock = new Object();
        long[] pending = {0};
        Runnable read = () -> {
            long id;
            synchronized (lock) {
                id = pending[0];
                pending[0] = 0;
            }
            if (id == 0) {
                return;
            }
            try {
                DkimKeys loaded = load.get();
                keys.replaceWith(loaded);
                LOG.info("dkim: keys read again (request {}): {}", id, loaded.describe());
                answer(new Answer(id, true, loaded.describe()));
            } catch (RuntimeException e) {
                LOG.warn("dkim: keys not read again (request {}), the old ones stay: {}", id, e.getMessage());
                answer(new Answer(id, false, e.getMessage() + "; still signing with " + keys.describe()));
            }
        };
        class Listener implements EntryAddedListener<String, Long>, EntryUpdatedListener<String, Long> {
            @Override
            public void entryAdded(EntryEvent<String, Long> event) {
                take(event.getValue());
            }

            @Override
            public void entryUpdated(EntryEvent<String, Long> event) {
                take(event.getValue());
            }

            private void take(Long id) {
                if (id == null || id <= 0) {
                    return;
                }
                synchronized (lock) {
                    boolean queued = pending[0] != 0;
                    pending[0] = Math.max(pending[0], id);
                    if (queued) {
                        return;
                    }
                }
                reader.execute(read);
            }
        }
        listener = requests.addEntryListener(new Listener(), true);
    }

    private void answer(Answer a) {
        try {
            answers.set(name, a.value(), KEPT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (RuntimeException e) {
            LOG.warn("dkim: could not answer the reload request in Hazelcast: {}", e.toString());
        }
    }

    /**
     * Asks every signer to read its keys again, and waits up to {@code wait} for the answers of those
     * that have registered; a signer that did not answer in time is listed with "no answer".
     *
     * @return each signer's answer, by name
     */
    public Map<String, Answer> request(Duration wait) throws InterruptedException {
        long id = Math.max(System.currentTimeMillis(), Math.max(1, requests.getOrDefault(KEY, 0L) + 1));
        requests.set(KEY, id, 1, TimeUnit.HOURS);
        long deadline = System.nanoTime() + wait.toNanos();
        Map<String, Answer> seen = new TreeMap<>();
        while (true) {
            seen.clear();
            java.util.Set<String> members = new java.util.HashSet<>();
            hazelcast.getCluster().getMembers().forEach(m -> members.add(m.getUuid().toString().substring(0, 8)));
            answers.forEach((k, v) -> {
                String member = k.substring(k.lastIndexOf(' ') + 1);
                if (members.contains(member)) {
                    seen.put(k.length() > 200 ? k.substring(0, 200) : k, Answer.parse(v));
                }
            });
            if (seen.values().stream().allMatch(a -> a.requested() >= id) || System.nanoTime() > deadline) {
                break;
            }
            Thread.sleep(100);
        }
        Map<String, Answer> out = new LinkedHashMap<>();
        seen.forEach((k, a) -> out.put(k, a.requested() >= id ? a : new Answer(a.requested(), false, "no answer within " + wait.toSeconds() + " s")));
        return out;
    }

    @Override
    public void close() {
        if (listener != null) {
            requests.removeEntryListener(listener);
            reader.shutdownNow();
            try {
                answers.delete(name);
            } catch (RuntimeException e) {
                // The cluster is going away with us.
            }
        }
    }
}
