package dev.berth.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Builds an in-memory key store from the PEM certificate chain and PKCS#8 private key zot's config names. */
public final class TlsKeys {
    private static final Pattern PKCS8 = Pattern.compile(
            "-----BEGIN PRIVATE KEY-----([A-Za-z0-9+/=\\s]+)-----END PRIVATE KEY-----");
    public static final char[] PASSWORD = "berth".toCharArray();

    private TlsKeys() {
    }

    public static KeyStore load(Path certFile, Path keyFile) throws IOException, GeneralSecurityException {
        List<? extends Certificate> chain;
        try (var in = Files.newInputStream(certFile)) {
            chain = List.copyOf(CertificateFactory.getInstance("X.509").generateCertificates(in));
        }
        if (chain.isEmpty()) {
            throw new GeneralSecurityException(certFile + " holds no PEM certificate");
        }
        PrivateKey key = privateKey(keyFile);
        KeyStore store = KeyStore.getInstance("PKCS12");
        store.load(null, null);
        store.setKeyEntry("berth", key, PASSWORD, chain.toArray(Certificate[]::new));
        return store;
    }

    /** A trust store of the PEM certificates in {@code caFile}, for checking client certificates. */
    public static KeyStore trustStore(Path caFile) throws IOException, GeneralSecurityException {
        KeyStore store = KeyStore.getInstance("PKCS12");
        store.load(null, null);
        try (var in = Files.newInputStream(caFile)) {
            int i = 0;
            for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                store.setCertificateEntry("ca" + i++, c);
            }
        }
        return store;
    }

    private static PrivateKey privateKey(Path keyFile) throws IOException, GeneralSecurityException {
        String pem = Files.readString(keyFile, StandardCharsets.US_ASCII);
        Matcher m = PKCS8.matcher(pem);
        if (!m.find()) {
            throw new GeneralSecurityException(keyFile + " holds no unencrypted PKCS#8 key (\"BEGIN PRIVATE KEY\");"
                    + " convert it with: openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pkcs8");
        }
        byte[] der = Base64.getMimeDecoder().decode(m.group(1));
        PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(der);
        for (String algorithm : List.of("RSA", "EC", "Ed25519", "Ed448")) {
            try {
                return KeyFactory.getInstance(algorithm).generatePrivate(spec);
            } catch (GeneralSecurityException e) {
                // try the next algorithm
            }
        }
        throw new GeneralSecurityException(keyFile + ": unsupported private key algorithm");
    }
}
