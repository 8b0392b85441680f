-- Accounts and their SCRAM credentials (RFC 5802 §3).
--
-- Only the salted keys are kept (salt, iteration count, StoredKey, ServerKey): never the
-- password and never the salted password, so a leaked database does not let anyone log in.
-- Localpart and domain are stored exactly as the caller normalized them. They use the "C"
-- collation so that equality and ORDER BY are plain byte comparisons whatever the database
-- locale is, which keeps the order of listings identical to the SQLite backend's.

CREATE TABLE accounts (
    domain     TEXT COLLATE "C" NOT NULL,
    localpart  TEXT COLLATE "C" NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Domain first: listing one domain's accounts is a prefix scan of the primary key.
    PRIMARY KEY (domain, localpart)
);

-- One row per SCRAM family (hash) an account can authenticate with.
CREATE TABLE scram_credentials (
    domain     TEXT COLLATE "C" NOT NULL,
    localpart  TEXT COLLATE "C" NOT NULL,
    hash       TEXT NOT NULL CHECK (hash IN ('SHA-1', 'SHA-256')),
    salt       BYTEA NOT NULL,
    -- BIGINT because the SCRAM i= attribute is an unsigned 32-bit count; INTEGER would cap it
    -- at 2^31-1.
    iterations BIGINT NOT NULL CHECK (iterations BETWEEN 1 AND 4294967295),
    stored_key BYTEA NOT NULL,
    server_key BYTEA NOT NULL,
    PRIMARY KEY (domain, localpart, hash),
    -- Deleting an account must not leave keys behind that a re-created account could inherit.
    FOREIGN KEY (domain, localpart) REFERENCES accounts (domain, localpart) ON DELETE CASCADE
);
