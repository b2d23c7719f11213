package net.mailrelay.edge.policy;

import java.net.InetAddress;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Who may relay through this edge (Postfix {@code smtpd_relay_restrictions = permit_mynetworks,
 * permit_sasl_authenticated, reject_unauth_destination}): clients in trusted networks and authenticated
 * clients may send anywhere; everybody else only to the relay domains. Never an open relay.
 */
public record RelayPolicy(List<Cidr> trustedNetworks, Set<String> relayDomains) {

    public RelayPolicy {
        trustedNetworks = List.copyOf(trustedNetworks);
        relayDomains = relayDomains.stream().map(d -> d.toLowerCase(Locale.ROOT)).collect(Collectors.toUnmodifiableSet());
    }

    public boolean isTrusted(InetAddress client) {
        return trustedNetworks.stream().anyMatch(n -> n.contains(client));
    }

    /**
     * Whether mail for this recipient may be accepted from this client. Subdomains of a relay domain are
     * not included unless listed (Postfix {@code parent_domain_matches_subdomains} is off for
     * relay_domains in modern defaults). As Postfix's {@code reject_unauth_destination}, an outsider may
     * not use sender-specified routing through a relay domain: {@code user%elsewhere@relay},
     * {@code user!elsewhere@relay} and {@code "user@elsewhere"@relay} would ask the next hop to relay on,
     * the oldest way of turning a relay open.
     */
    public boolean permits(InetAddress client, boolean authenticated, String recipientLocalPart, String recipientDomain) {
        return authenticated || isTrusted(client)
                || relayDomains.contains(recipientDomain.toLowerCase(Locale.ROOT)) && !routed(recipientLocalPart);
    }

    private static boolean routed(String localPart) {
        return localPart.indexOf('%') >= 0 || localPart.indexOf('!') >= 0 || localPart.indexOf('@') >= 0;
    }
}
