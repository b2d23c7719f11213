package net.mailrelay.edge.auth;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A users file that cannot be used as written. Not retriable: the operator has to fix the named line.
 * The message is {@code file:line: reason}, like a compiler's, and never contains the line itself.
 */
public final class UsersFileException extends IOException {

    UsersFileException(Path file, int line, String reason) {
        super(file + ":" + line + ": " + reason);
    }

    UsersFileException(String message) {
        super(message);
    }
}
