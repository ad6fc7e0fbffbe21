-- The registry's rows. Portable SQL: the same file runs on SQLite and PostgreSQL.

CREATE TABLE repositories (
    name VARCHAR(255) NOT NULL PRIMARY KEY,
    created_at BIGINT NOT NULL
);

-- Every blob whose bytes are in the blob store, once.
CREATE TABLE blobs (
    digest VARCHAR(200) NOT NULL PRIMARY KEY,
    size BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Which repository may serve which blob: a digest alone is not a key to another repository's content.
CREATE TABLE repository_blobs (
    repository VARCHAR(255) NOT NULL,
    digest VARCHAR(200) NOT NULL,
    linked_at BIGINT NOT NULL,
    PRIMARY KEY (repository, digest)
);
CREATE INDEX repository_blobs_by_digest ON repository_blobs (digest);

CREATE TABLE manifests (
    repository VARCHAR(255) NOT NULL,
    digest VARCHAR(200) NOT NULL,
    media_type VARCHAR(255) NOT NULL,
    size BIGINT NOT NULL,
    artifact_type VARCHAR(255),
    subject VARCHAR(200),
    annotations TEXT,
    pushed_at BIGINT NOT NULL,
    PRIMARY KEY (repository, digest)
);
CREATE INDEX manifests_by_subject ON manifests (repository, subject);

-- What a manifest points at: config and layers (kind BLOB) or child manifests (kind MANIFEST).
CREATE TABLE manifest_references (
    repository VARCHAR(255) NOT NULL,
    manifest VARCHAR(200) NOT NULL,
    target VARCHAR(200) NOT NULL,
    kind VARCHAR(16) NOT NULL,
    PRIMARY KEY (repository, manifest, target)
);
CREATE INDEX manifest_references_by_target ON manifest_references (repository, target);

CREATE TABLE tags (
    repository VARCHAR(255) NOT NULL,
    name VARCHAR(128) NOT NULL,
    digest VARCHAR(200) NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (repository, name)
);
CREATE INDEX tags_by_digest ON tags (repository, digest);

-- An upload session belongs to whoever opened it (owner null: opened anonymously, open to all).
CREATE TABLE uploads (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    repository VARCHAR(255) NOT NULL,
    algorithm VARCHAR(16) NOT NULL,
    owner VARCHAR(255),
    started_at BIGINT NOT NULL
);
