package net.mailrelay.edge.session;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import java.util.Locale;
import net.mailrelay.protocol.smtp.Reply;

/**
 * One SMTP AUTH exchange (RFC 4954) with the PLAIN (RFC 4616) or LOGIN mechanism, as a small state
 * machine: fed the AUTH argument and then each client response line, it answers with a challenge, the
 * credentials to check, or a refusal. It never logs or keeps the password beyond handing it over.
 */
final class SaslExchange {

    /** What the exchange needs next. */
    sealed interface Result {
        record Challenge(Reply reply) implements Result {
        }

        record Credentials(String user, char[] password) implements Result {
        }

        record Refused(Reply reply) implements Result {
        }
    }

    static final String MECHANISMS = "PLAIN LOGIN";
    private static final String USERNAME = Base64.getEncoder().encodeToString("Username:".getBytes(StandardCharsets.US_ASCII));
    private static final String PASSWORD = Base64.getEncoder().encodeToString("Password:".getBytes(StandardCharsets.US_ASCII));

    private enum Step { PLAIN_RESPONSE, LOGIN_USER, LOGIN_PASSWORD }

    private Step step;
    private String loginUser;

    /** Starts an exchange from the AUTH command's argument: {@code MECHANISM [initial-response]}. */
    Result start(String argument) {
        String[] words = argument.trim().split(" +");
        if (words[0].isEmpty() || words.length > 2) {
            return new Result.Refused(Replies.AUTH_SYNTAX);
        }
        String initial = words.length == 2 ? words[1] : null;
        switch (words[0].toUpperCase(Locale.ROOT)) {
            case "PLAIN" -> {
                step = Step.PLAIN_RESPONSE;
                return initial == null ? new Result.Challenge(Replies.challenge("")) : respond(initial);
            }
            case "LOGIN" -> {
                step = Step.LOGIN_USER;
                return initial == null ? new Result.Challenge(Replies.challenge(USERNAME)) : respond(initial);
            }
            default -> {
                return new Result.Refused(Replies.AUTH_MECHANISM);
            }
        }
    }

    /** A response line from the client. */
    Result respond(String line) {
        String text = line.trim();
        if (text.equals("*")) {
            return new Result.Refused(Replies.AUTH_ABORTED);
        }
        byte[] decoded;
        try {
            // RFC 4954 section 4: "=" is an empty initial response.
            decoded = text.equals("=") ? new byte[0] : Base64.getDecoder().decode(text);
        } catch (IllegalArgumentException e) {
            return new Result.Refused(Replies.AUTH_UNDECODABLE);
        }
        try {
            return switch (step) {
                case PLAIN_RESPONSE -> plain(decoded);
                case LOGIN_USER -> {
                    loginUser = utf8(decoded);
                    step = Step.LOGIN_PASSWORD;
                    yield new Result.Challenge(Replies.challenge(PASSWORD));
                }
                case LOGIN_PASSWORD -> new Result.Credentials(loginUser, chars(decoded));
            };
        } catch (CharacterCodingException e) {
            return new Result.Refused(Replies.AUTH_UNDECODABLE);
        } finally {
            Arrays.fill(decoded, (byte) 0);
        }
    }

    /** RFC 4616: [authzid] NUL authcid NUL passwd; acting for another identity is not supported. */
    private static Result plain(byte[] message) throws CharacterCodingException {
        int first = indexOf(message, 0);
        int second = first < 0 ? -1 : indexOf(message, first + 1);
        if (first < 0 || second < 0) {
            return new Result.Refused(Replies.AUTH_UNDECODABLE);
        }
        String authzid = utf8(Arrays.copyOfRange(message, 0, first));
        String authcid = utf8(Arrays.copyOfRange(message, first + 1, second));
        if (!authzid.isEmpty() && !authzid.equals(authcid)) {
            return new Result.Refused(Replies.AUTH_FAILED);
        }
        return new Result.Credentials(authcid, chars(Arrays.copyOfRange(message, second + 1, message.length)));
    }

    private static int indexOf(byte[] b, int from) {
        for (int i = from; i < b.length; i++) {
            if (b[i] == 0) {
                return i;
            }
        }
        return -1;
    }

    private static String utf8(byte[] b) throws CharacterCodingException {
        return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                .decode(ByteBuffer.wrap(b)).toString();
    }

    private static char[] chars(byte[] b) throws CharacterCodingException {
        CharBuffer c = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b));
        char[] out = new char[c.remaining()];
        c.get(out);
        Arrays.fill(c.array(), '\0');
        Arrays.fill(b, (byte) 0);
        return out;
    }
}
