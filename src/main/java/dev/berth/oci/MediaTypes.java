package dev.berth.oci;

import java.util.Locale;
import java.util.Set;

/** Media types the registry knows by name. */
public final class MediaTypes {
    public static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
    public static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";
    public static final String OCI_EMPTY = "application/vnd.oci.empty.v1+json";
    public static final String DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
    public static final String DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
    public static final String DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json";
    public static final String DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws";
    public static final String DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
    public static final String OCTET_STREAM = "application/octet-stream";
    public static final String JSON = "application/json";

    private static final Set<String> IMAGE_MANIFESTS = Set.of(OCI_MANIFEST, DOCKER_MANIFEST);
    private static final Set<String> INDEXES = Set.of(OCI_INDEX, DOCKER_MANIFEST_LIST);

    private MediaTypes() {
    }

    public static boolean isImageManifest(String mediaType) {
        return IMAGE_MANIFESTS.contains(mediaType);
    }

    public static boolean isIndex(String mediaType) {
        return INDEXES.contains(mediaType);
    }

    public static boolean isManifest(String mediaType) {
        return isImageManifest(mediaType) || isIndex(mediaType);
    }

    public static boolean isSchema1(String mediaType) {
        return DOCKER_SCHEMA1.equals(mediaType) || DOCKER_SCHEMA1_SIGNED.equals(mediaType);
    }

    /** Layers whose bytes may live elsewhere (their descriptor carries {@code urls}); a registry need not hold them. */
    public static boolean isNonDistributable(String mediaType) {
        return mediaType.contains(".nondistributable.") || DOCKER_FOREIGN_LAYER.equals(mediaType);
    }

    /** The media type of a header value without parameters, lowercased: {@code a/b; charset=x} gives {@code a/b}. */
    public static String essence(String headerValue) {
        if (headerValue == null) {
            return null;
        }
        int semicolon = headerValue.indexOf(';');
        String type = (semicolon < 0 ? headerValue : headerValue.substring(0, semicolon)).trim();
        return type.isEmpty() ? null : type.toLowerCase(Locale.ROOT);
    }
}
