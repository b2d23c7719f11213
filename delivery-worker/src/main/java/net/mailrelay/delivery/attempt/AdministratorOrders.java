package net.mailrelay.delivery.attempt;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import net.mailrelay.delivery.ledger.RecipientLedger;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.envelope.Recipient;
import net.mailrelay.protocol.smtp.EnhancedStatus;
import net.mailrelay.protocol.smtp.StatusDetail;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Carries out an administrator's order for one message instead of an attempt: every recipient not
 * yet delivered is failed (a DSN follows, as NOTIFY asks) or deleted (nothing follows but the event),
 * and each is logged as Postfix's queue manager and postsuper log it.
 */
final class AdministratorOrders {

    private static final Logger LOG = LoggerFactory.getLogger(AdministratorOrders.class);
    static final String FAILED = "message failed by the administrator";
    static final String DELETED = "message deleted by the administrator";
    // RFC 3463 5.0.0: permanent, and no more specific code describes an operator's decision.
    private static final EnhancedStatus STATUS = EnhancedStatus.permanentFailure(StatusDetail.OTHER);

    private AdministratorOrders() {
    }

    static List<Verdict> carryOut(Envelope env, QueueControls.Order order, RecipientLedger ledger) {
        String delay = String.format(Locale.ROOT, "%.2f", (System.currentTimeMillis() - env.arrivedAtMillis()) / 1000.0);
        List<Verdict> verdicts = new ArrayList<>();
        for (Recipient r : env.recipients()) {
            if (ledger.settled(env.queueId(), r.address()) != RecipientLedger.Settled.NO) {
                continue; // delivered or bounced before the order came: nothing left to fail or delete for it
            }
            boolean fail = order == QueueControls.Order.FAIL;
            verdicts.add(fail ? new Verdict.Failed(r.address(), STATUS, null, FAILED)
                    : new Verdict.Deleted(r.address(), STATUS, DELETED));
            LOG.info("{}: to=<{}>, relay=none, delay={}, attempt={}, dsn={}, status={} ({})", env.queueId(), r.address(),
                    delay, env.attempts() + 1, STATUS, fail ? "bounced" : "deleted", fail ? FAILED : DELETED);
        }
        if (order == QueueControls.Order.DELETE) {
            LOG.info("{}: removed", env.queueId()); // postsuper -d's own line
        }
        return verdicts;
    }
}
