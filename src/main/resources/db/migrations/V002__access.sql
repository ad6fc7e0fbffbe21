-- Users as the registry last saw them, API keys, browser sessions and OpenID logins in progress.
-- Secrets are never stored: keys and session tokens by their SHA-256, login states likewise.

-- Accounts whose groups come from an identity provider, as given at their last sign-in; the key is the name
-- and where the account lives (an OpenID "alice" is not the htpasswd "alice").
CREATE TABLE users (
    name VARCHAR(255) NOT NULL,
    account VARCHAR(32) NOT NULL,
    groups_json TEXT,
    last_login_at BIGINT NOT NULL,
    PRIMARY KEY (name, account)
);

CREATE TABLE api_keys (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    secret_hash VARCHAR(128) NOT NULL UNIQUE,
    owner VARCHAR(255) NOT NULL,
    owner_account VARCHAR(32) NOT NULL,
    label VARCHAR(255),
    scopes_json TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    last_used_at BIGINT,
    creator_ua VARCHAR(512)
);
CREATE INDEX api_keys_by_owner ON api_keys (owner);

CREATE TABLE sessions (
    token_hash VARCHAR(128) NOT NULL PRIMARY KEY,
    username VARCHAR(255) NOT NULL,
    account VARCHAR(32) NOT NULL,
    provider VARCHAR(64),
    groups_json TEXT,
    csrf_token VARCHAR(128) NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_username ON sessions (username);

CREATE TABLE login_attempts (
    state_hash VARCHAR(128) NOT NULL PRIMARY KEY,
    provider VARCHAR(64) NOT NULL,
    nonce VARCHAR(128) NOT NULL,
    code_verifier VARCHAR(128) NOT NULL,
    return_to VARCHAR(2048),
    created_at BIGINT NOT NULL
);
