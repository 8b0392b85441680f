-- Instant messaging state (RFC 6121): rosters with their versions, pending inbound
-- subscription requests and offline messages. Mirrors migrations/sqlite/0002_im.sql.
--
-- Every table hangs off `accounts` with ON DELETE CASCADE (rosters through the `rosters`
-- row), so deleting an account deletes all of it. Contact JIDs are bare JIDs stored exactly as
-- the caller normalized them, in the "C" collation so that equality and ORDER BY compare
-- bytes like the SQLite backend does.
--
-- Per-account row counts are bounded by the server (roster size limit, offline quota, one
-- pending request per contact, at most ROSTER_TOMBSTONES removals remembered), so queries
-- scan a prefix of the primary key and need no further indexes.

-- One row per account whose roster has been written: its version (RFC 6121 §2.6).
--
-- Every roster write bumps `version` in the same transaction as the change (the row lock of
-- INSERT .. ON CONFLICT DO UPDATE serializes concurrent writers of one roster), so concurrent
-- changes get distinct, ordered versions. The row is created on the first write, starting at
-- the current time in microseconds (see `RosterVersion`), and deleted with the account.
-- BIGINT: versions are microsecond timestamps, far beyond INTEGER.
CREATE TABLE rosters (
    domain    TEXT COLLATE "C" NOT NULL,
    localpart TEXT COLLATE "C" NOT NULL,
    version   BIGINT NOT NULL CHECK (version >= 1),
    -- The oldest version `changes_since` can answer from: the first version of this roster,
    -- raised whenever removal records older than the kept window are pruned.
    horizon   BIGINT NOT NULL CHECK (horizon BETWEEN 0 AND version),
    PRIMARY KEY (domain, localpart),
    FOREIGN KEY (domain, localpart) REFERENCES accounts (domain, localpart) ON DELETE CASCADE
);

-- One row per roster item (RFC 6121 §2.1.2), with the raw subscription facts.
CREATE TABLE roster_items (
    domain       TEXT COLLATE "C" NOT NULL,
    localpart    TEXT COLLATE "C" NOT NULL,
    contact      TEXT COLLATE "C" NOT NULL,
    name         TEXT,
    sub_to       BOOLEAN NOT NULL,
    sub_from     BOOLEAN NOT NULL,
    pending_out  BOOLEAN NOT NULL,
    pending_in   BOOLEAN NOT NULL,
    pre_approved BOOLEAN NOT NULL,
    -- The roster version of the write that last set this item: the items changed since a
    -- version V are those with version > V.
    version      BIGINT NOT NULL,
    PRIMARY KEY (domain, localpart, contact),
    FOREIGN KEY (domain, localpart) REFERENCES rosters (domain, localpart) ON DELETE CASCADE
);

-- The groups of an item (RFC 6121 §2.1.2.6), in the order they were given.
CREATE TABLE roster_groups (
    domain    TEXT COLLATE "C" NOT NULL,
    localpart TEXT COLLATE "C" NOT NULL,
    contact   TEXT COLLATE "C" NOT NULL,
    position  INTEGER NOT NULL CHECK (position >= 0),
    name      TEXT NOT NULL,
    PRIMARY KEY (domain, localpart, contact, position),
    FOREIGN KEY (domain, localpart, contact)
        REFERENCES roster_items (domain, localpart, contact) ON DELETE CASCADE
);

-- Removed items, so that `changes_since` can report removals (RFC 6121 §2.6.3 pushes items
-- with subscription='remove'). One row per contact, holding the version of its latest
-- removal; adding the contact back deletes the row. Only the newest removals per roster are
-- kept (the store prunes the rest and raises `rosters.horizon` past them).
CREATE TABLE roster_tombstones (
    domain    TEXT COLLATE "C" NOT NULL,
    localpart TEXT COLLATE "C" NOT NULL,
    contact   TEXT COLLATE "C" NOT NULL,
    version   BIGINT NOT NULL,
    PRIMARY KEY (domain, localpart, contact),
    FOREIGN KEY (domain, localpart) REFERENCES rosters (domain, localpart) ON DELETE CASCADE
);

-- Inbound subscription requests awaiting the user's answer (RFC 6121 §3.1.3 rule 4): the
-- complete presence stanza, at most one per contact.
CREATE TABLE pending_subscriptions (
    domain     TEXT COLLATE "C" NOT NULL,
    localpart  TEXT COLLATE "C" NOT NULL,
    contact    TEXT COLLATE "C" NOT NULL,
    stanza_xml TEXT NOT NULL,
    PRIMARY KEY (domain, localpart, contact),
    FOREIGN KEY (domain, localpart) REFERENCES accounts (domain, localpart) ON DELETE CASCADE
);

-- Messages stored for later delivery (RFC 6121 §8.5.2.2.1). `id` comes from an identity
-- sequence, so ordering by it is the arrival order delivery follows. The quota check and the
-- insert must not race: the store locks the owner's `accounts` row (SELECT .. FOR UPDATE)
-- before counting.
CREATE TABLE offline_messages (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    domain        TEXT COLLATE "C" NOT NULL,
    localpart     TEXT COLLATE "C" NOT NULL,
    stanza_xml    TEXT NOT NULL,
    -- Milliseconds since the Unix epoch, exactly as the API carries them (an i64). BIGINT
    -- rather than TIMESTAMPTZ: it holds every value the SQLite backend accepts, with no
    -- conversion to get wrong, and is only ever read back to build a delay stamp.
    stamp_unix_ms BIGINT NOT NULL,
    FOREIGN KEY (domain, localpart) REFERENCES accounts (domain, localpart) ON DELETE CASCADE
);

-- Finds one account's messages in arrival order, and their rows when the account is deleted.
CREATE INDEX offline_messages_by_owner ON offline_messages (domain, localpart, id);
