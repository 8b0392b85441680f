-- Accounts and their SCRAM credentials (RFC 5802 §3).
--
-- Only the salted keys are kept (salt, iteration count, StoredKey, ServerKey): never the
-- password and never the salted password, so a leaked database does not let anyone log in.
-- Localpart and domain are stored exactly as the caller normalized them; the store does not
-- fold case or otherwise reinterpret them.

CREATE TABLE accounts (
    domain     TEXT NOT NULL,
    localpart  TEXT NOT NULL,
    -- UTC, ISO 8601 with milliseconds, so it sorts as text and reads without conversion.
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    -- Domain first: listing one domain's accounts is a prefix scan of the primary key.
    PRIMARY KEY (domain, localpart)
) WITHOUT ROWID;

-- One row per SCRAM family (hash) an account can authenticate with.
CREATE TABLE scram_credentials (
    domain     TEXT    NOT NULL,
    localpart  TEXT    NOT NULL,
    hash       TEXT    NOT NULL CHECK (hash IN ('SHA-1', 'SHA-256')),
    salt       BLOB    NOT NULL,
    -- Holds the full u32 range the SCRAM i= attribute allows.
    iterations INTEGER NOT NULL CHECK (iterations BETWEEN 1 AND 4294967295),
    stored_key BLOB    NOT NULL,
    server_key BLOB    NOT NULL,
    PRIMARY KEY (domain, localpart, hash),
    -- Deleting an account must not leave keys behind that a re-created account could inherit.
    FOREIGN KEY (domain, localpart) REFERENCES accounts (domain, localpart) ON DELETE CASCADE
) WITHOUT ROWID;
