package net.mailrelay.testing;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A server a test owns through {@code @RegisterExtension}: a static field lives for the test class, an
 * instance field for one test. It can also be started and closed by hand.
 */
public abstract class TestServer implements BeforeAllCallback, AfterAllCallback, BeforeEachCallback,
        AfterEachCallback, AutoCloseable {

    private boolean classScoped;
    private boolean running;

    protected abstract void startServer() throws Exception;

    protected abstract void stopServer();

    public final synchronized TestServer start() {
        if (!running) {
            try {
                startServer();
            } catch (Exception e) {
                throw new IllegalStateException("could not start " + getClass().getSimpleName(), e);
            }
            running = true;
        }
        return this;
    }

    @Override
    public final synchronized void close() {
        if (running) {
            running = false;
            stopServer();
        }
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        classScoped = true;
        start();
    }

    @Override
    public void afterAll(ExtensionContext context) {
        close();
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        start();
    }

    @Override
    public void afterEach(ExtensionContext context) {
        if (!classScoped) {
            close();
        }
    }
}
