package net.mailrelay.protocol.smtp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import net.mailrelay.testing.RandomInputs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class PathArgumentTest {

    @Test
    void parsesAPathWithParameters() {
        PathArgument p = PathArgument.parse("<alice@example.org> SIZE=1000 body=8BITMIME SMTPUTF8", false);
        assertThat(p.mailbox()).isEqualTo(new Mailbox("alice", "example.org"));
        assertThat(p.parameters()).containsExactly(
                Map.entry("SIZE", "1000"), Map.entry("BODY", "8BITMIME"), Map.entry("SMTPUTF8", ""));
    }

    @Test
    void acceptsTheNullPathOnlyWhereAllowed() {
        assertThat(PathArgument.parse("<>", true).mailbox()).isNull();
        assertThatThrownBy(() -> PathArgument.parse("<>", false)).isInstanceOf(AddressSyntaxException.class);
    }

    @Test
    void dropsSourceRoutes() {
        assertThat(PathArgument.parse("<@relay.a,@relay.b:bob@example.org>", false).mailbox())
                .isEqualTo(new Mailbox("bob", "example.org"));
    }

    @Test
    void keepsQuotedLocalPartsAndAddressLiterals() {
        assertThat(PathArgument.parse("<\"john doe\"@[192.0.2.1]>", false).mailbox())
                .isEqualTo(new Mailbox("\"john doe\"", "[192.0.2.1]"));
    }

    @Test
    void toleratesPostfixStyleLaxness() {
        assertThat(PathArgument.parse(" <a@b.example>", false).mailbox()).isEqualTo(new Mailbox("a", "b.example"));
        assertThat(PathArgument.parse("a@b.example SIZE=5", false).parameters()).containsKey("SIZE");
    }

    /** What strict_rfc821_envelopes looks at: whether the path came in angle brackets. */
    @Test
    void saysWhetherThePathWasBracketed() {
        assertThat(PathArgument.parse("<a@b.example> SIZE=5", false).bracketed()).isTrue();
        assertThat(PathArgument.parse(" <a@b.example>", false).bracketed()).isTrue();
        assertThat(PathArgument.parse("<>", true).bracketed()).isTrue();
        PathArgument bare = PathArgument.parse("a@b.example SIZE=5", false);
        assertThat(bare.bracketed()).isFalse();
        assertThat(bare.mailbox()).isEqualTo(new Mailbox("a", "b.example"));
        assertThat(PathArgument.parse("a@b.example", true).bracketed()).isFalse();
    }

    @Test
    void acceptsUtf8Addresses() {
        assertThat(PathArgument.parse("<josé@exämple.org>", false).mailbox().isAscii()).isFalse();
    }

    @ParameterizedTest
    @ValueSource(strings = {"<a@b", "<@b>", "<a@>", "<a b@c>", "<a@-b.example>", "<a@b..c>", "<a@b> X=1 X=2",
            "<a@b>junk", "", "<a@b> =x", "<a@[]>", "<a@b>\u0000"})
    void rejectsMalformedPaths(String argument) {
        assertThatThrownBy(() -> PathArgument.parse(argument, true)).isInstanceOf(AddressSyntaxException.class);
    }

    @Test
    void neverThrowsAnythingButASyntaxError() {
        long seed = System.nanoTime();
        RandomInputs inputs = new RandomInputs(seed);
        for (int i = 0; i < 50_000; i++) {
            String argument = inputs.next(12);
            boolean allowNull = inputs.nextBoolean();
            try {
                PathArgument p = PathArgument.parse(argument, allowNull);
                assertThat(p.parameters()).isNotNull();
                assertThat(p.mailbox() != null || allowNull).isTrue();
            } catch (AddressSyntaxException expected) {
                assertThat(expected.getMessage()).as("seed %d input %s", seed, argument).isNotBlank();
            } catch (RuntimeException e) {
                throw new AssertionError("seed " + seed + ", input '" + argument + "'", e);
            }
        }
    }

    @Test
    void splitsCommandLines() {
        CommandLine c = CommandLine.parse("mail FROM:<a@b>");
        assertThat(c.verb()).isEqualTo(CommandLine.Verb.MAIL);
        assertThat(c.afterKeyword("FROM:")).isEqualTo("<a@b>");
        assertThat(CommandLine.parse("RCPT To:<x@y>").afterKeyword("TO:")).isEqualTo("<x@y>");
        assertThat(CommandLine.parse("RCPT <x@y>").afterKeyword("TO:")).isNull();
        assertThat(CommandLine.parse("FROB").verb()).isEqualTo(CommandLine.Verb.UNKNOWN);
        assertThat(CommandLine.parse("").verb()).isEqualTo(CommandLine.Verb.UNKNOWN);
    }
}
