-- Instant messaging state (RFC 6121): rosters with their versions, pending inbound
-- subscription requests and offline messages.
--
-- Every table hangs off `accounts` with ON DELETE CASCADE (rosters through the `rosters`
-- row), so deleting an account deletes all of it. Contact JIDs are bare JIDs stored exactly as
-- the caller normalized them and compared as bytes (BINARY collation), like account names.
--
-- Per-account row counts are bounded by the server (roster size limit, offline quota, one
-- pending request per contact, at most ROSTER_TOMBSTONES removals remembered), so queries
-- scan a prefix of the primary key and need no further indexes.

-- One row per account whose roster has been written: its version (RFC 6121 §2.6).
--
-- Every roster write bumps `version` in the same transaction as the change, so concurrent
-- changes get distinct, ordered versions. The row is created on the first write, starting at
-- the current time in microseconds (see `RosterVersion`), and deleted with the account.
CREATE TABLE rosters (
    domain    TEXT    NOT NULL,
    localpart TEXT    NOT NULL,
    version   INTEGER NOT NULL CHECK (version >= 1),
    -- The oldest version `changes_since` can answer from: the first version of this roster,
    -- raised whenever removal records older than the kept window are pruned.
    horizon   INTEGER NOT NULL CHECK (horizon BETWEEN 0 AND version),
    PRIMARY KEY (domain, localpart),
    FOREIGN KEY (domain, localpart) REFERENCES accounts (domain, localpart) ON DELETE CASCADE
) WITHOUT ROWID;

-- One row per roster item (RFC 6121 §2.1.2), with the raw subscription facts.
CREATE TABLE roster_items (
    domain       TEXT    NOT NULL,
    localpart    TEXT    NOT NULL,
    contact      TEXT    NOT NULL,
    name         TEXT,
    sub_to       INTEGER NOT NULL CHECK (sub_to IN (0, 1)),
    sub_from     INTEGER NOT NULL CHECK (sub_from IN (0, 1)),
    pending_out  INTEGER NOT NULL CHECK (pending_out IN (0, 1)),
    pending_in   INTEGER NOT NULL CHECK (pending_in IN (0, 1)),
    pre_approved INTEGER NOT NULL CHECK (pre_approved IN (0, 1)),
    -- The roster version of the write that last set this item: the items changed since a
    -- version V are those with version > V.
    version      INTEGER NOT NULL,
    PRIMARY KEY (domain, localpart, contact),
    FOREIGN KEY (domain, localpart) REFERENCES rosters (domain, localpart) ON DELETE CASCADE
) WITHOUT ROWID;

-- The groups of an item (RFC 6121 §2.1.2.6), in the order they were given.
CREATE TABLE roster_groups (
    domain    TEXT    NOT NULL,
    localpart TEXT    NOT NULL,
    contact   TEXT    NOT NULL,
    position  INTEGER NOT NULL CHECK (position >= 0),
    name      TEXT    NOT NULL,
    PRIMARY KEY (domain, localpart, contact, position),
    FOREIGN KEY (domain, localpart, contact)
        REFERENCES roster_items (domain, localpart, contact) ON DELETE CASCADE
) WITHOUT ROWID;

-- Removed items, so that `changes_since` can report removals (RFC 6121 §2.6.3 pushes items
-- with subscription='remove'). One row per contact, holding the version of its latest
-- removal; adding the contact back deletes the row. Only the newest removals per roster are
-- kept (the store prunes the rest and raises `rosters.horizon` past them).
CREATE TABLE roster_tombstones (
    domain    TEXT    NOT NULL,
    localpart TEXT    NOT NULL,
    contact   TEXT    NOT NULL,
    version   INTEGER NOT NULL,
    PRIMARY KEY (domain, localpart, contact),
    FOREIGN KEY (domain, localpart) REFERENCES rosters (domain, localpart) ON DELETE CASCADE
) WITHOUT ROWID;

-- Inbound subscription requests awaiting the user's answer (RFC 6121 §3.1.3 rule 4): the
-- complete presence stanza, at most one per contact.
CREATE TABLE pending_subscriptions (
    domain     TEXT NOT NULL,
    localpart  TEXT NOT NULL,
    contact    TEXT NOT NULL,
    stanza_xml TEXT NOT NULL,
    PRIMARY KEY (domain, localpart, contact),
    FOREIGN KEY (domain, localpart) REFERENCES accounts (domain, localpart) ON DELETE CASCADE
) WITHOUT ROWID;

-- Messages stored for later delivery (RFC 6121 §8.5.2.2.1). `id` is the rowid, which SQLite
-- assigns one above the largest present, so ordering by it is the arrival order delivery
-- follows.
CREATE TABLE offline_messages (
    id            INTEGER PRIMARY KEY,
    domain        TEXT    NOT NULL,
    localpart     TEXT    NOT NULL,
    stanza_xml    TEXT    NOT NULL,
    -- Milliseconds since the Unix epoch, as given: the value the delay stamp is built from.
    stamp_unix_ms INTEGER NOT NULL,
    FOREIGN KEY (domain, localpart) REFERENCES accounts (domain, localpart) ON DELETE CASCADE
);

-- Finds one account's messages in arrival order, and their rows when the account is deleted.
CREATE INDEX offline_messages_by_owner ON offline_messages (domain, localpart, id);
