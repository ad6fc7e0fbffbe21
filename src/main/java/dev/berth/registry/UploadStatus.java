package dev.berth.registry;

/** Where an upload session stands: its id, repository and how many bytes it holds. */
public record UploadStatus(String id, String repository, long size) {
}
