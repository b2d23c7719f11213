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

    /**
     * @param cacheSize answers kept (dnsjava's cache, which honours each record's TTL); 0 keeps none
     * @param mxPort the port of servers found by MX lookup: 25, except where tests run their servers on
     *     other ports
     */
    public MxResolver(Resolver resolver, int cacheSize, int maxAddresses, int mxPort) {
        Cache cache = new Cache(DClass.IN);
        cache.setMaxEntries(Math.max(cacheSize, 0));
        // No search path and no hosts file: mail routing asks the DNS about fully qualified names only.
        this.lookups = LookupSession.builder().resolver(resolver).cache(cache).clearSearchPath().build();
        this.timeout = resolver.getTimeout();
        this.maxAddresses = maxAddresses;
        this.mxPort = mxPort;
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
            return addressesOf(List.of(domain), mxPort, domain);
        }
        Collections.shuffle(records, ThreadLocalRandom.current());
        records.sort(Comparator.comparingInt(MXRecord::getPriority)); // stable: equal preferences stay shuffled
        List<String> hosts = records.stream()
                .map(m -> m.getTarget().toString(true))
                .filter(h -> !h.isEmpty())
                .toList();
        return addressesOf(hosts, mxPort, domain);
    }

    /** Addresses of one host, for a next hop given without MX lookup. */
    public Resolution resolveHost(String host, int port) {
        return addressesOf(List.of(host), port, host);
    }

    private Resolution addressesOf(List<String> hosts, int port, String domain) {
        List<Target> targets = new ArrayList<>();
        Resolution.Failure lastFailure = null;
        boolean temporary = false;
        for (String host : hosts) {
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
                }
            }
        }
        if (!targets.isEmpty()) {
            return new Resolution.Targets(targets);
        }
        if (temporary) {
            return new Resolution.Failure(EnhancedStatus.transientFailure(StatusDetail.ROUTING_SERVER_FAILURE),
                    lastFailure.text());
        }
        return new Resolution.Failure(EnhancedStatus.permanentFailure(StatusDetail.UNABLE_TO_ROUTE),
                "Host or domain name not found: no address for " + String.join(", ", hosts) + " (routing " + domain + ")");
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
