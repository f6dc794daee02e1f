-- Secrets (``PUT /api/secrets/{name}``), shared by every server on the database.
--
-- ``sealed`` is the value encrypted with AES-GCM under the key of ``BATON_SECRETS_KEY``, the secret's name as
-- associated data: base64 of a 12-byte nonce then the ciphertext with its tag. No column holds the value itself.

CREATE TABLE secrets (
    name        TEXT    NOT NULL PRIMARY KEY,
    sealed      TEXT    NOT NULL,
    update_time INTEGER NOT NULL
);
