//! Sealing secrets before they reach a database row.
//!
//! Every secret (today: an integration's Duo skey) is encrypted with AES-256-GCM under the
//! current [`SealKey`] before it is written, and opened only in memory, per use: nothing opened
//! is cached across requests, so re-sealing rows under another key never leaves a stale copy.
//! (Passwords and tokens are not sealed but hashed.)
//!
//! # Format
//!
//! A sealed value is `b"dg1" || key_id (4 bytes) || nonce (12 bytes) || ciphertext || tag (16)`.
//! The nonce is random per value (far below the ~2^32 values per key where random 96-bit nonces
//! start to matter for a configuration store).
//!
//! # Binding to the row
//!
//! The associated data is `duogate-seal-v1 \0 table \0 row id \0 key id`, so a ciphertext copied
//! into another row, another table, or relabelled with another key id no longer opens
//! ([`RowBinding`]). Swapping whole rows is therefore detected too.
//!
//! # Keys and rotation
//!
//! A key's id is derived from the key itself (the first 4 bytes of a SHA-256 over a label and
//! the key), so no separate id has to be configured and two keys cannot share an id by
//! mistake. A [`Keyring`] holds the current key, which seals, and older keys, which only open.
//! Rotation = make a new key current, keep the old one in the ring, re-seal every row
//! ([`Keyring::reseal`], for the whole database
//! [`Store::reseal_all`](crate::Store::reseal_all)), then drop the old key.
//!
//! Key material is read from a file or an environment variable as 64 hex characters or
//! base64 of 32 bytes ([`SealKey::parse`]); `duogate serve --dev` generates one
//! ([`SealKey::generate`]) and writes it with mode 0600.
//!
//! # The key check: which keyrings open a database
//!
//! The table `seal_checks` holds one row per key id: a known value sealed under that key and
//! bound to its own row (table `seal_checks`, row id = the key id; [`Keyring::seal_check`]).
//! Only integrations' `sealed_secret` holds sealed values besides the checks
//! ([`SEALED_COLUMNS`]). [`Store::connect`](crate::Store::connect) runs migrations, then decides,
//! **reading only**, whether the given keyring opens the database:
//!
//! 1. Every key id that seals a live row (the 4 id bytes of each value's header in every
//!    sealed column) must be in the keyring (else [`KeyCheckProblem::RowsUnderMissingKeys`]).
//! 2. If the database has check rows: at least one key of the ring has a check row (else
//!    [`KeyCheckProblem::NoKnownKey`]), and every key of the ring that has one opens it to the
//!    known value (else [`KeyCheckProblem::CheckDoesNotOpen`]: a different key with a colliding
//!    id, or tampering). Keys of the ring without a check row are allowed: that is how a new key
//!    joins (`[new, old]`).
//! 3. If it has none (a database from before key checks, or a fresh one): every sealed row must
//!    open with the ring (else [`KeyCheckProblem::RowDoesNotOpen`]). A database without any
//!    sealed row and without checks accepts any key: there is nothing to check against yet.
//!
//! A refusal is [`StoreError::WrongSealKey`](crate::StoreError::WrongSealKey), naming the key
//! ids the database expects (those with check rows and those sealing live rows) and the ids
//! given; nothing has been written but the schema. Once the ring is accepted, the current key's
//! check is recorded if it has none (so a pre-check database gets its check on first start, and
//! the new key of a `[new, old]` ring is recorded), and only then anything else is written.
//!
//! [`Store::reseal_all`](crate::Store::reseal_all) re-seals every row under the current key,
//! records its check and deletes every other key's check, in one transaction: afterwards only
//! the new key opens the database, and a start with only the old key is refused.
//!
//! While serving, [`Store::seal_health`](crate::Store::seal_health) reads the distinct key ids of
//! live rows (one `SELECT DISTINCT` per call over the sealed column of a configuration-sized
//! table) and names those this instance lacks: that happens when another instance seals under a
//! key this one was not given (one instance restarted with `[new, old]` while this one still
//! runs on `[old]`).

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use rand::RngCore as _;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::{Digest as _, Sha256};

const MAGIC: &[u8; 3] = b"dg1";
const HEADER_LEN: usize = 3 + 4 + 12;

/// The table of key checks; a check is bound to the row named by its key id.
pub const CHECK_TABLE: &str = "seal_checks";

/// The value a key check seals (not a secret: it only proves that a key opens the database).
const CHECK_PLAINTEXT: &[u8] = b"duogate seal key check v1";

/// Every `(table, column, primary key)` that holds sealed values, besides the key checks: what
/// the key check and [`Store::seal_health`](crate::Store::seal_health) scan and
/// [`Store::reseal_all`](crate::Store::reseal_all) re-seals.
pub const SEALED_COLUMNS: &[(&str, &str, &str)] = &[("integrations", "sealed_secret", "id")];

/// Why a keyring does not open a database (see the module doc for the rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyCheckProblem {
    /// The database has key checks, but none for any key given.
    #[error("none of the given keys is one this database was sealed with")]
    NoKnownKey,
    /// Live rows are sealed under keys that were not given.
    #[error("rows are sealed under keys that were not given")]
    RowsUnderMissingKeys,
    /// A given key has the id of a key check, but does not open it.
    #[error(
        "a given key has the id of a recorded key but does not open its check (a different key, or tampering)"
    )]
    CheckDoesNotOpen,
    /// A database from before key checks has a sealed row the keyring does not open.
    #[error("a sealed row does not open with the given keys")]
    RowDoesNotOpen,
}

/// The key id (8 hex characters) in a sealed value's header, if it is in the sealed format.
pub fn sealed_key_id(sealed: &[u8]) -> Option<String> {
    (sealed.len() >= HEADER_LEN && &sealed[..3] == MAGIC).then(|| hex::encode(&sealed[3..7]))
}

/// Why a value could not be sealed or opened. Messages never contain key material or plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// Key material is not 32 bytes as hex or base64.
    #[error("seal key must be 32 bytes, written as 64 hex characters or base64")]
    BadKey,
    /// The value is not in the sealed format.
    #[error("not a sealed value")]
    NotSealed,
    /// No key in the ring has this id.
    #[error("no seal key with id {0}")]
    UnknownKey(String),
    /// Authentication failed: wrong key, wrong row, or tampering.
    #[error("sealed value does not open for this row (wrong key, wrong row, or tampered)")]
    Tampered,
    /// The plaintext is not UTF-8 (for string secrets).
    #[error("sealed value is not text")]
    NotText,
}

/// A 256-bit sealing key with its derived id. `Debug` shows only the id.
pub struct SealKey {
    id: [u8; 4],
    key: SecretBox<[u8; 32]>,
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealKey")
            .field("id", &self.id_hex())
            .finish_non_exhaustive()
    }
}

impl Clone for SealKey {
    fn clone(&self) -> Self {
        Self::from_bytes(*self.key.expose_secret())
    }
}

impl SealKey {
    /// A key from raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"duogate-seal-key-id\0");
        hasher.update(bytes);
        let digest = hasher.finalize();
        let id = [digest[0], digest[1], digest[2], digest[3]];
        Self {
            id,
            key: SecretBox::new(Box::new(bytes)),
        }
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self::from_bytes(bytes)
    }

    /// Parses 64 hex characters or base64 of 32 bytes (surrounding white space ignored).
    pub fn parse(text: &SecretString) -> Result<Self, SealError> {
        let text = text.expose_secret().trim();
        let decoded = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).map_err(|_| SealError::BadKey)?
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| SealError::BadKey)?
        };
        let bytes: [u8; 32] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| SealError::BadKey)?;
        let mut decoded = decoded;
        zeroize::Zeroize::zeroize(&mut decoded);
        Ok(Self::from_bytes(bytes))
    }

    /// The key as 64 hex characters, for writing a generated key to its file.
    pub fn to_hex(&self) -> SecretString {
        SecretString::from(hex::encode(self.key.expose_secret()))
    }

    /// The key id as 8 hex characters.
    pub fn id_hex(&self) -> String {
        hex::encode(self.id)
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new_from_slice(self.key.expose_secret()).expect("32-byte key")
    }
}

/// Which row a sealed value belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowBinding<'a> {
    /// Table name.
    pub table: &'a str,
    /// The row's primary key.
    pub row_id: &'a str,
}

impl RowBinding<'_> {
    fn aad(&self, key_id: &[u8; 4]) -> Vec<u8> {
        let mut aad = Vec::with_capacity(40 + self.table.len() + self.row_id.len());
        aad.extend_from_slice(b"duogate-seal-v1\0");
        aad.extend_from_slice(self.table.as_bytes());
        aad.push(0);
        aad.extend_from_slice(self.row_id.as_bytes());
        aad.push(0);
        aad.extend_from_slice(key_id);
        aad
    }
}

/// The current key (seals and opens) and older keys (open only).
#[derive(Debug, Clone)]
pub struct Keyring {
    current: SealKey,
    older: Vec<SealKey>,
}

impl Keyring {
    /// A ring with one key.
    pub fn new(current: SealKey) -> Self {
        Self {
            current,
            older: Vec::new(),
        }
    }

    /// Adds a key that can still open values sealed under it.
    pub fn with_older(mut self, key: SealKey) -> Self {
        if key.id != self.current.id && !self.older.iter().any(|k| k.id == key.id) {
            self.older.push(key);
        }
        self
    }

    /// The ring for a rotation: `new` becomes current; the old current key (and the older
    /// ones) can still open.
    pub fn rotated_to(self, new: SealKey) -> Self {
        let Self { current, older } = self;
        older
            .into_iter()
            .fold(Keyring::new(new).with_older(current), Keyring::with_older)
    }

    /// The current key's id.
    pub fn current_id(&self) -> String {
        self.current.id_hex()
    }

    /// Every key's id, the current key's first.
    pub fn key_ids(&self) -> Vec<String> {
        self.keys().map(SealKey::id_hex).collect()
    }

    /// Whether the ring has a key with this id (8 hex characters).
    pub fn has_key(&self, key_id: &str) -> bool {
        self.keys().any(|k| k.id_hex() == key_id)
    }

    fn keys(&self) -> impl Iterator<Item = &SealKey> {
        std::iter::once(&self.current).chain(&self.older)
    }

    /// The current key's check: the known value sealed under it for the `seal_checks` row of
    /// its id.
    pub fn seal_check(&self) -> Vec<u8> {
        let key_id = self.current_id();
        self.seal(
            CHECK_PLAINTEXT,
            RowBinding {
                table: CHECK_TABLE,
                row_id: &key_id,
            },
        )
    }

    /// Whether the check stored for `key_id` opens to the known value with this ring (`false`
    /// when the ring lacks the key, the value was moved from another row, or it was tampered
    /// with).
    pub fn opens_check(&self, key_id: &str, sealed: &[u8]) -> bool {
        sealed_key_id(sealed).as_deref() == Some(key_id)
            && self
                .open(
                    sealed,
                    RowBinding {
                        table: CHECK_TABLE,
                        row_id: key_id,
                    },
                )
                .is_ok_and(|plain| plain.expose_secret().as_slice() == CHECK_PLAINTEXT)
    }

    /// Seals `plaintext` for `row` under the current key.
    pub fn seal(&self, plaintext: &[u8], row: RowBinding<'_>) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let aad = row.aad(&self.current.id);
        let ciphertext = self
            .current
            .cipher()
            .encrypt(
                &Nonce::<U12>::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .expect("AES-GCM encryption of a bounded message cannot fail");
        let mut sealed = Vec::with_capacity(HEADER_LEN + ciphertext.len());
        sealed.extend_from_slice(MAGIC);
        sealed.extend_from_slice(&self.current.id);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    /// Seals a string secret.
    pub fn seal_str(&self, secret: &SecretString, row: RowBinding<'_>) -> Vec<u8> {
        self.seal(secret.expose_secret().as_bytes(), row)
    }

    /// Opens a sealed value for `row` with whichever key sealed it.
    pub fn open(
        &self,
        sealed: &[u8],
        row: RowBinding<'_>,
    ) -> Result<SecretBox<Vec<u8>>, SealError> {
        if sealed.len() < HEADER_LEN + 16 || &sealed[..3] != MAGIC {
            return Err(SealError::NotSealed);
        }
        let key_id: [u8; 4] = sealed[3..7].try_into().map_err(|_| SealError::NotSealed)?;
        let nonce: [u8; 12] = sealed[7..19].try_into().map_err(|_| SealError::NotSealed)?;
        let key = self
            .keys()
            .find(|k| k.id == key_id)
            .ok_or_else(|| SealError::UnknownKey(hex::encode(key_id)))?;
        let aad = row.aad(&key_id);
        key.cipher()
            .decrypt(
                &Nonce::<U12>::from(nonce),
                Payload {
                    msg: &sealed[HEADER_LEN..],
                    aad: &aad,
                },
            )
            .map(|plain| SecretBox::new(Box::new(plain)))
            .map_err(|_| SealError::Tampered)
    }

    /// Opens a string secret.
    pub fn open_str(&self, sealed: &[u8], row: RowBinding<'_>) -> Result<SecretString, SealError> {
        let bytes = self.open(sealed, row)?;
        let text = std::str::from_utf8(bytes.expose_secret()).map_err(|_| SealError::NotText)?;
        Ok(SecretString::from(text.to_string()))
    }

    /// Whether a sealed value is under the current key (rotation skips those).
    pub fn is_current(&self, sealed: &[u8]) -> bool {
        sealed.len() >= 7 && &sealed[..3] == MAGIC && sealed[3..7] == self.current.id
    }

    /// Opens a value sealed under any key of the ring and seals it again under the current key.
    pub fn reseal(&self, sealed: &[u8], row: RowBinding<'_>) -> Result<Vec<u8>, SealError> {
        let plain = self.open(sealed, row)?;
        Ok(self.seal(plain.expose_secret(), row))
    }
}

/// SHA-256 of a secret, lower-case hex: what reads show instead of the secret (ONTAP's
/// `fingerprint`).
pub fn fingerprint(secret: &SecretString) -> String {
    hex::encode(Sha256::digest(secret.expose_secret().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROW: RowBinding<'static> = RowBinding {
        table: "integrations",
        row_id: "0193a0c4",
    };

    fn secret(text: &str) -> SecretString {
        SecretString::from(text.to_string())
    }

    #[test]
    fn sealed_values_open_for_their_row_and_hide_the_plaintext() {
        let ring = Keyring::new(SealKey::generate());
        let skey = secret("Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep");
        let sealed = ring.seal_str(&skey, ROW);
        assert!(!sealed.windows(8).any(|w| w == &b"Zh5eGmUq"[..]));
        assert_eq!(
            ring.open_str(&sealed, ROW).unwrap().expose_secret(),
            skey.expose_secret()
        );
        assert_ne!(
            sealed,
            ring.seal_str(&skey, ROW),
            "a fresh nonce every time"
        );
    }

    #[test]
    fn another_row_table_key_or_a_flipped_bit_does_not_open() {
        let ring = Keyring::new(SealKey::generate());
        let sealed = ring.seal(b"secret", ROW);
        let other_row = RowBinding {
            row_id: "0193a0c5",
            ..ROW
        };
        let other_table = RowBinding {
            table: "connections",
            ..ROW
        };
        assert_eq!(
            ring.open(&sealed, other_row).unwrap_err(),
            SealError::Tampered
        );
        assert_eq!(
            ring.open(&sealed, other_table).unwrap_err(),
            SealError::Tampered
        );
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(ring.open(&flipped, ROW).unwrap_err(), SealError::Tampered);
        let stranger = Keyring::new(SealKey::generate());
        assert!(matches!(
            stranger.open(&sealed, ROW),
            Err(SealError::UnknownKey(_))
        ));
        assert_eq!(
            ring.open(b"plain text value here, not sealed", ROW)
                .unwrap_err(),
            SealError::NotSealed
        );
    }

    #[test]
    fn rotation_reseals_under_the_new_key_and_old_values_still_open_meanwhile() {
        let old = SealKey::generate();
        let before = Keyring::new(old.clone());
        let sealed = before.seal(b"skey", ROW);
        let after = Keyring::new(SealKey::generate()).with_older(old);
        assert!(!after.is_current(&sealed));
        assert_eq!(after.open(&sealed, ROW).unwrap().expose_secret(), b"skey");
        let resealed = after.reseal(&sealed, ROW).unwrap();
        assert!(after.is_current(&resealed));
        let only_new = Keyring {
            older: Vec::new(),
            ..after
        };
        assert_eq!(
            only_new.open(&resealed, ROW).unwrap().expose_secret(),
            b"skey"
        );
        assert!(only_new.open(&sealed, ROW).is_err(), "the old key is gone");
    }

    #[test]
    fn keys_parse_from_hex_or_base64_and_never_show_in_debug() {
        let key = SealKey::generate();
        let hex_text = key.to_hex();
        let parsed = SealKey::parse(&hex_text).unwrap();
        assert_eq!(parsed.id_hex(), key.id_hex());
        let b64 = base64::engine::general_purpose::STANDARD
            .encode(hex::decode(hex_text.expose_secret()).unwrap());
        assert_eq!(
            SealKey::parse(&secret(&b64)).unwrap().id_hex(),
            key.id_hex()
        );
        assert_eq!(
            SealKey::parse(&secret("too short")).unwrap_err(),
            SealError::BadKey
        );
        let debug = format!("{key:?} {:?}", Keyring::new(key.clone()));
        assert!(!debug.contains(hex_text.expose_secret()));
        assert!(debug.contains(&key.id_hex()));
    }

    #[test]
    fn a_key_check_opens_only_with_its_key_and_for_its_own_row() {
        let key = SealKey::generate();
        let ring = Keyring::new(key.clone());
        let check = ring.seal_check();
        let id = key.id_hex();
        assert_eq!(sealed_key_id(&check), Some(id.clone()));
        assert!(ring.opens_check(&id, &check));
        assert!(
            Keyring::new(SealKey::generate())
                .with_older(key)
                .opens_check(&id, &check),
            "an older key of the ring opens its check"
        );
        assert!(!Keyring::new(SealKey::generate()).opens_check(&id, &check));
        assert!(!ring.opens_check("00000000", &check), "another row's id");
        let not_a_check = ring.seal(
            b"anything else",
            RowBinding {
                table: CHECK_TABLE,
                row_id: &id,
            },
        );
        assert!(!ring.opens_check(&id, &not_a_check), "not the known value");
        assert!(!ring.opens_check(&id, b"dg1"));
    }

    #[test]
    fn fingerprints_are_sha256_hex_of_the_secret() {
        assert_eq!(
            fingerprint(&secret("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
