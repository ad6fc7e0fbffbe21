package dev.berth.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;

/** HTTP spoken by hand over a socket, for requests no well-behaved client would send. */
public final class RawHttp implements AutoCloseable {
    private final Socket socket;

    public RawHttp(URI base) throws IOException {
        socket = new Socket(base.getHost(), base.getPort());
        socket.setSoTimeout(15_000);
    }

    public RawHttp send(String text) throws IOException {
        return send(text.getBytes(StandardCharsets.ISO_8859_1));
    }

    public RawHttp send(byte[] bytes) throws IOException {
        OutputStream out = socket.getOutputStream();
        out.write(bytes);
        out.flush();
        return this;
    }

    /** Closes the sending side only, as a client does that has nothing more to say. */
    public void shutdownOutput() throws IOException {
        socket.shutdownOutput();
    }

    /** Reads one response: its status and the whole text of headers and body. */
    public String response() throws IOException {
        InputStream in = socket.getInputStream();
        ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        byte[] chunk = new byte[8192];
        int headerEnd = -1;
        long contentLength = -1;
        while (true) {
            int n = in.read(chunk);
            if (n < 0) {
                break;
            }
            buffer.write(chunk, 0, n);
            String text = buffer.toString(StandardCharsets.ISO_8859_1);
            if (headerEnd < 0 && (headerEnd = text.indexOf("\r\n\r\n")) >= 0) {
                for (String line : text.substring(0, headerEnd).split("\r\n")) {
                    if (line.toLowerCase().startsWith("content-length:")) {
                        contentLength = Long.parseLong(line.substring(15).strip());
                    }
                }
            }
            if (headerEnd >= 0 && contentLength >= 0 && buffer.size() >= headerEnd + 4 + contentLength) {
                break;
            }
        }
        return buffer.toString(StandardCharsets.ISO_8859_1);
    }

    /** GETs {@code path}, reads about {@code bytes} of the answer, then hangs up, as a client that gives up. */
    public static void readSomeAndClose(URI base, String path, int bytes) throws IOException {
        try (RawHttp http = new RawHttp(base)) {
            http.send("GET " + path + " HTTP/1.1\r\nHost: " + base.getHost() + "\r\n\r\n");
            http.socket.setSoTimeout(3_000);
            InputStream in = http.socket.getInputStream();
            byte[] chunk = new byte[8192];
            try {
                for (int read = 0; read < bytes; ) {
                    int n = in.read(chunk);
                    if (n < 0) {
                        break;
                    }
                    read += n;
                }
            } catch (java.net.SocketTimeoutException impatient) {
                // a client gives up waiting just the same
            }
        }
    }

    public static int status(String response) {
        return Integer.parseInt(response.substring(9, 12));
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
