-- When each mirrored tag was last checked upstream: within the freshness window it is served without asking.
CREATE TABLE mirror_checks (
    repository VARCHAR(255) NOT NULL,
    tag VARCHAR(128) NOT NULL,
    checked_at BIGINT NOT NULL,
    PRIMARY KEY (repository, tag)
);
