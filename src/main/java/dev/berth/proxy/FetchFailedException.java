package dev.berth.proxy;

import java.io.IOException;

/** An upstream download that readers were following failed (or its bytes did not verify); nothing was kept. */
public final class FetchFailedException extends IOException {
    public FetchFailedException(String message, Throwable cause) {
        super(message, cause);
    }
}
