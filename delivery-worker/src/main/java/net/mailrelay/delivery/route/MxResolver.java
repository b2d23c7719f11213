package net.mailrelay.delivery.route;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.ThreadLocalRandom;
import net.mailrelay.protocol.smtp.EnhancedStatus;
import net.mailrelay.protocol.smtp.StatusDetail;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.ExtendedResolver;
import org.xbill.DNS.MXRecord;
import org.xbill.DNS.Cache;
import org.xbill.DNS.Name;
import org.xbill.DNS.Record;
import org.xbill.DNS.Resolver;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.TextParseException;
import org.xbill.DNS.Type;
import org.xbill.DNS.lookup.LookupSession;
import org.xbill.DNS.lookup.NoSuchDomainException;
import org.xbill.DNS.lookup.NoSuchRRSetException;
import org.xbill.DNS.lookup.ServerFailedException;

/**
 * Finds the servers for a recipient domain (RFC 5321 section 5.1): MX records sorted by preference with
 * equal preferences shuffled; no MX means the domain's own A/AAAA records (implicit MX); a null MX
 * (RFC 7505) or a domain that does not exist fails permanently; a DNS server failure or timeout fails
 * temporarily. At most {@code maxAddresses} addresses are returned (Postfix smtp_mx_address_limit).
 * Answers are cached for their TTL in a bounded cache, so a busy destination costs one lookup per TTL.
 */
public final class MxResolver {

    private final LookupSession lookups;
    private final Duration timeout;
    private final int maxAddresses;
    private final int mxPort;
    private final Myself myself;

    public MxResolver(Resolver resolver, int cacheSize, int maxAddresses, int mxPort) {
        this(resolver, cacheSize, maxAddresses, mxPort, Myself.NOBODY);
    }

    /**
     * @param cacheSize answers kept (dnsjava's cache, which honours each record's TTL); 0 keeps none
     * @param mxPort the port of servers found by MX lookup: 25, except where tests run their servers on
     *     other ports
     * @param myself what is this relay: MX hosts from it on are dropped (RFC 5321 section 5.1)
     */
    public MxResolver(Resolver resolver, int cacheSize, int maxAddresses, int mxPort, Myself myself) {
        Cache cache = new Cache(DClass.IN);
        cache.setMaxEntries(Math.max(cacheSize, 0));
        // No search path and no hosts file: mail routing asks the DNS about fully qualified names only.
        this.lookups = LookupSession.builder().resolver(resolver).cache(cache).clearSearchPath().build();
        this.timeout = resolver.getTimeout();
        this.maxAddresses = maxAddresses;
        this.mxPort = mxPort;
        this.myself = myself;
    }

    /** A resolver for {@code host:port}, or the system's resolvers when null. */
    public static Resolver resolver(String hostPort, Duration timeout) {
        Resolver r;
        if (hostPort == null || hostPort.isBlank()) {
            r = new ExtendedResolver();
        } else {
            int colon = hostPort.lastIndexOf(':');
            String host = colon < 0 ? hostPort : hostPort.substring(0, colon);
            int port = colon < 0 ? 53 : Integer.parseInt(hostPort.substring(colon + 1));
            r = new SimpleResolver(new InetSocketAddress(host.replace("[", "").replace("]", ""), port));
        }
        r.setTimeout(timeout);
        return r;
    }

    public Resolution resolve(String domain) {
        Answer mx = query(domain, Type.MX);
        if (mx.failure != null) {
            return mx.failure;
        }
        List<MXRecord> records = new ArrayList<>();
        for (Record r : mx.records) {
            if (r instanceof MXRecord m) {
                records.add(m);
            }
        }
        if (records.size() == 1 && records.get(0).getTarget().equals(Name.root)) {
            return new Resolution.Failure(EnhancedStatus.permanentFailure(StatusDetail.NULL_MX),
                    "Domain " + domain + " does not accept mail (nullMX)");
        }
        if (records.isEmpty()) {
            // RFC 5321 section 5.1: no MX records, so the domain itself is the implicit MX.
            return notMyself(addressesOf(List.of(domain), List.of(0), mxPort, domain), domain);
        }
        Collections.shuffle(records, ThreadLocalRandom.current());
        records.sort(Comparator.comparingInt(MXRecord::getPriority)); // stable: equal preferences stay shuffled
        records.removeIf(m -> m.getTarget().toString(true).isEmpty());
        List<String> hosts = records.stream().map(m -> m.getTarget().toString(true)).toList();
        List<Integer> preferences = records.stream().map(MXRecord::getPriority).toList();
        return notMyself(addressesOf(hosts, preferences, mxPort, domain), domain);
    }

    /**
     * RFC 5321 section 5.1: when this relay is among the MX hosts, only the hosts preferred to it may
     * be tried; when none is, the mail would come straight back (5.4.6, as Postfix says it).
     */
    private Resolution notMyself(Found found, String domain) {
        if (found.failure() != null) {
            return found.failure();
        }
        Ranked ranked = found.ranked();
        List<Target> targets = ranked.targets();
        int self = -1;
        for (int i = 0; i < targets.size() && self < 0; i++) {
            if (myself.is(targets.get(i))) {
                self = i;
            }
        }
        if (self < 0) {
            return new Resolution.Targets(targets);
        }
        int selfPreference = ranked.preferences().get(self);
        List<Target> better = new ArrayList<>();
        for (int i = 0; i < targets.size(); i++) {
            if (ranked.preferences().get(i) < selfPreference) {
                better.add(targets.get(i));
            }
        }
        if (better.isEmpty()) {
            return new Resolution.Failure(EnhancedStatus.permanentFailure(StatusDetail.ROUTING_LOOP),
                    "mail for " + domain + " loops back to myself (" + targets.get(self).host() + ")");
        }
        return new Resolution.Targets(better);
    }

    /** Addresses of one host, for a next hop given without MX lookup. */
    public Resolution resolveHost(String host, int port) {
        Found found = addressesOf(List.of(host), List.of(0), port, host);
        return found.failure() != null ? found.failure() : new Resolution.Targets(found.ranked().targets());
    }

    /** Addresses found, each with the preference of the MX host it belongs to; not yet looked at for loops. */
    private record Ranked(List<Target> targets, List<Integer> preferences) {
    }

    /** Either the addresses or why there are none. */
    private record Found(Ranked ranked, Resolution.Failure failure) {
    }

    private Found addressesOf(List<String> hosts, List<Integer> preferences, int port, String domain) {
        List<Target> targets = new ArrayList<>();
        List<Integer> ranks = new ArrayList<>();
        Resolution.Failure lastFailure = null;
        boolean temporary = false;
        for (int h = 0; h < hosts.size(); h++) {
            String host = hosts.get(h);
            List<InetAddress> found = new ArrayList<>();
            InetAddress literal = literal(host);
            if (literal != null) {
                found.add(literal);
            } else {
                for (int type : new int[] {Type.A, Type.AAAA}) {
                    Answer a = query(host, type);
                    if (a.failure != null) {
                        lastFailure = a.failure;
                        temporary |= !a.failure.status().isPermanent();
                        continue;
                    }
                    for (Record r : a.records) {
                        if (r instanceof ARecord ar) {
                            found.add(ar.getAddress());
                        } else if (r instanceof AAAARecord ar) {
                            found.add(ar.getAddress());
                        }
                    }
                }
            }
            for (InetAddress address : found) {
                if (targets.size() < maxAddresses) {
                    targets.add(new Target(host, new InetSocketAddress(address, port)));
                    ranks.add(preferences.get(h));
                }
            }
        }
        if (!targets.isEmpty()) {
            return new Found(new Ranked(targets, ranks), null);
        }
        if (temporary) {
            return new Found(null, new Resolution.Failure(EnhancedStatus.transientFailure(StatusDetail.ROUTING_SERVER_FAILURE),
                    lastFailure.text()));
        }
        return new Found(null, new Resolution.Failure(EnhancedStatus.permanentFailure(StatusDetail.UNABLE_TO_ROUTE),
                "Host or domain name not found: no address for " + String.join(", ", hosts) + " (routing " + domain + ")"));
    }

    private record Answer(List<Record> records, Resolution.Failure failure) {
    }

    private Answer query(String name, int type) {
        String what = "name=" + name + " type=" + Type.string(type);
        Name n;
        try {
            n = Name.fromString(name.endsWith(".") ? name : name + ".");
        } catch (TextParseException e) {
            return new Answer(List.of(), new Resolution.Failure(
                    EnhancedStatus.permanentFailure(StatusDetail.BAD_DESTINATION_SYSTEM), "Bad domain name: " + what));
        }
        try {
            return new Answer(lookups.lookupAsync(n, type).toCompletableFuture().get(timeout.toMillis() * 3, TimeUnit.MILLISECONDS)
                    .getRecords(), null);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Answer(List.of(), temporary(what + ": interrupted"));
        } catch (java.util.concurrent.TimeoutException e) {
            return new Answer(List.of(), temporary(what + ": timed out"));
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof NoSuchDomainException) {
                return new Answer(List.of(), new Resolution.Failure(
                        EnhancedStatus.permanentFailure(StatusDetail.BAD_DESTINATION_SYSTEM),
                        "Host or domain name not found. Name service error for " + what + ": Host not found"));
            }
            if (cause instanceof NoSuchRRSetException) {
                return new Answer(List.of(), null); // the name exists without records of this type
            }
            String why = cause instanceof ServerFailedException ? "SERVFAIL, try again"
                    : cause instanceof java.io.IOException || cause instanceof java.util.concurrent.TimeoutException
                            ? "timed out" : String.valueOf(cause.getMessage());
            return new Answer(List.of(), temporary(what + ": " + why));
        }
    }

    private static Resolution.Failure temporary(String what) {
        return new Resolution.Failure(EnhancedStatus.transientFailure(StatusDetail.ROUTING_SERVER_FAILURE),
                "Host or domain name not found. Name service error for " + what);
    }

    private static InetAddress literal(String host) {
        String h = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
        boolean looksLiteral = h.indexOf(':') >= 0 || h.chars().allMatch(c -> Character.isDigit(c) || c == '.');
        if (h.equalsIgnoreCase("localhost")) {
            return InetAddress.getLoopbackAddress();
        }
        if (!looksLiteral) {
            return null;
        }
        try {
            return InetAddress.getByName(h); // a literal: no lookup happens
        } catch (UnknownHostException e) {
            return null;
        }
    }
}
