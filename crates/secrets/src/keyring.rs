//! `Keyring`: the control plane's age identities and fingerprint key, the key file's text
//! format, sealing and opening vaults, and key rotation.

use std::fmt;
use std::io::{BufReader, Read, Write};
use std::iter;

use age::armor::{ArmoredReader, ArmoredWriter, Format};
use age::secrecy::ExposeSecret;
use age::x25519;
use age::{DecryptError, Decryptor, Encryptor};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::{Fingerprint, Secret, SecretsError, Vault};

/// Comment prefix of the key file line holding the fingerprint key (age ignores comments).
const FINGERPRINT_KEY_PREFIX: &str = "# c15t-fingerprint-key:";
const SECRET_KEY_PREFIX: &str = "AGE-SECRET-KEY-1";
const FINGERPRINT_KEY_LEN: usize = 32;

/// The control plane's keys: age X25519 identities (oldest first; the newest is the *primary*,
/// the only one new vaults are sealed to) and the key of secret fingerprints.
///
/// More than one identity exists only during a rotation (see the crate documentation). The
/// fingerprint key never changes, so fingerprints stay comparable across rotations. `Debug`
/// prints the public recipients only.
#[derive(Clone)]
pub struct Keyring {
    /// Oldest first; never empty.
    identities: Vec<x25519::Identity>,
    fingerprint_key: Zeroizing<[u8; FINGERPRINT_KEY_LEN]>,
}

impl Keyring {
    /// A new keyring: one fresh identity and a fresh fingerprint key, both from the operating
    /// system's random number generator.
    ///
    /// # Panics
    ///
    /// If the operating system cannot provide random bytes (age's key generation panics then too).
    pub fn generate() -> Self {
        let mut fingerprint_key = Zeroizing::new([0; FINGERPRINT_KEY_LEN]);
        getrandom::fill(&mut *fingerprint_key)
            .expect("the operating system's random number generator failed");
        Self {
            identities: vec![x25519::Identity::generate()],
            fingerprint_key,
        }
    }

    /// Parses the text of a key file (see [`Keyring::to_file_text`]).
    ///
    /// Blank lines and `#` comments are ignored, except the one `# c15t-fingerprint-key:` line;
    /// every other line must be an `AGE-SECRET-KEY-1…` identity. Errors name the line, never its
    /// content.
    pub fn parse(text: &str) -> Result<Self, SecretsError> {
        let invalid = |line: Option<usize>, problem: &'static str| SecretsError::KeyFileInvalid {
            path: None,
            line,
            problem,
        };
        let mut identities = Vec::new();
        let mut fingerprint_key = None;
        for (index, line) in text.lines().enumerate() {
            let number = Some(index + 1);
            let line = line.trim();
            if let Some(encoded) = line.strip_prefix(FINGERPRINT_KEY_PREFIX) {
                if fingerprint_key.is_some() {
                    return Err(invalid(
                        number,
                        "a second `# c15t-fingerprint-key:` line; a key file holds exactly one",
                    ));
                }
                fingerprint_key =
                    Some(decode_fingerprint_key(encoded.trim()).ok_or_else(|| {
                        invalid(number, "the fingerprint key is not the base64 of 32 bytes")
                    })?);
            } else if line.is_empty() || line.starts_with('#') {
                continue;
            } else if line.starts_with(SECRET_KEY_PREFIX) {
                let identity = line
                    .parse::<x25519::Identity>()
                    .map_err(|_| invalid(number, "not a valid age X25519 identity"))?;
                identities.push(identity);
            } else if line.starts_with("AGE-PLUGIN-") {
                return Err(invalid(
                    number,
                    "age plugin identities are not supported; use an X25519 identity",
                ));
            } else {
                return Err(invalid(
                    number,
                    "expected a `#` comment or an `AGE-SECRET-KEY-1…` identity",
                ));
            }
        }
        if identities.is_empty() {
            return Err(invalid(None, "it holds no `AGE-SECRET-KEY-1…` identity"));
        }
        let fingerprint_key = fingerprint_key.ok_or_else(|| {
            invalid(
                None,
                "it has no `# c15t-fingerprint-key:` line (a plain `age-keygen` file is not enough)",
            )
        })?;
        Ok(Self {
            identities,
            fingerprint_key,
        })
    }

    /// The key file's text: a valid age identity file (`age -d -i FILE` accepts it) whose
    /// comments carry the fingerprint key and, for people, each identity's public key.
    ///
    /// Returned as `Zeroizing<String>` rather than `String` (it holds every private key), so the
    /// text is zeroed when dropped; it dereferences to `String`.
    pub fn to_file_text(&self) -> Zeroizing<String> {
        let mut text = Zeroizing::new(String::with_capacity(512 + 160 * self.identities.len()));
        text.push_str(
            "# c15t control plane key file, created by `c15tctl keys init`: an age identity file.\n\
             # Decrypt a vault with `age --decrypt -i <this file> <vault>`. Keep this file secret\n\
             # (mode 0600) and backed up: without it no stored secret can be recovered.\n\
             # Identities are oldest first; new vaults are sealed to the last one only.\n",
        );
        let encoded = Zeroizing::new(BASE64.encode(*self.fingerprint_key));
        text.push_str(FINGERPRINT_KEY_PREFIX);
        text.push(' ');
        text.push_str(&encoded);
        text.push('\n');
        for identity in &self.identities {
            text.push_str("# public key: ");
            text.push_str(&identity.to_public().to_string());
            text.push('\n');
            text.push_str(identity.to_string().expose_secret());
            text.push('\n');
        }
        text
    }

    fn primary(&self) -> &x25519::Identity {
        self.identities.last().expect("a keyring has an identity")
    }

    /// The `age1…` recipient of the primary (newest) identity: the one vaults are sealed to.
    pub fn primary_recipient(&self) -> String {
        self.primary().to_public().to_string()
    }

    /// The `age1…` recipients of every identity, oldest first.
    pub fn recipients(&self) -> Vec<String> {
        self.identities
            .iter()
            .map(|identity| identity.to_public().to_string())
            .collect()
    }

    /// Whether a rotation is under way (the keyring holds more than one identity).
    pub fn is_rotating(&self) -> bool {
        self.identities.len() > 1
    }

    /// Starts a rotation: adds a fresh identity, which becomes the primary. The fingerprint key
    /// is kept. Callers must not call this when [`Keyring::is_rotating`] is already true (resume
    /// the rotation instead; see the crate documentation).
    pub fn begin_rotation(&mut self) {
        self.identities.push(x25519::Identity::generate());
    }

    /// Ends a rotation: keeps only the primary identity. Call this only after every vault has
    /// been re-sealed ([`Keyring::sealed_to_primary`] is true for all of them).
    pub fn finish_rotation(&mut self) {
        let primary = self.identities.pop().expect("a keyring has an identity");
        self.identities = vec![primary];
    }

    /// The keyed fingerprint of a value: HMAC-SHA256 under the fingerprint key.
    pub fn fingerprint(&self, value: &Secret) -> Fingerprint {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&*self.fingerprint_key)
            .expect("HMAC takes a key of any length");
        mac.update(value.expose().as_bytes());
        Fingerprint::from_mac(&mac.finalize().into_bytes())
    }

    /// Encrypts a vault to the primary recipient only, as armored age
    /// (`-----BEGIN AGE ENCRYPTED FILE-----`).
    pub fn seal(&self, vault: &Vault) -> Result<String, SecretsError> {
        let plaintext = vault.to_plaintext();
        let recipient = self.primary().to_public();
        let encrypt = |source| SecretsError::Encrypt { source };
        let encryptor = Encryptor::with_recipients(iter::once(&recipient as &dyn age::Recipient))
            .map_err(encrypt)?;
        // Armor: 64 base64 characters per line, plus the header and the frame lines.
        let mut armored = Vec::with_capacity(plaintext.len() * 4 / 3 + 400);
        let armor = ArmoredWriter::wrap_output(&mut armored, Format::AsciiArmor)
            .map_err(|e| encrypt(age::EncryptError::Io(e)))?;
        let mut writer = encryptor
            .wrap_output(armor)
            .map_err(|e| encrypt(age::EncryptError::Io(e)))?;
        writer
            .write_all(&plaintext)
            .and_then(|()| writer.finish())
            .and_then(|armor| armor.finish())
            .map_err(|e| encrypt(age::EncryptError::Io(e)))?;
        Ok(String::from_utf8(armored).expect("armored age is ASCII"))
    }

    /// Decrypts a vault with whichever identity it was sealed to (the primary is tried first).
    ///
    /// Binary (unarmored) age is accepted too.
    pub fn open(&self, armored: &str) -> Result<Vault, SecretsError> {
        // The plaintext is shorter than the ciphertext, so this buffer never reallocates (which
        // would leave an unzeroed copy of the plaintext behind).
        let mut plaintext = Zeroizing::new(Vec::with_capacity(armored.len()));
        // Fast path: well-formed armor (as `seal` writes it) is decoded in one go and the
        // binary age file handed to age, which skips age's line-by-line armor reader. Anything
        // else (binary age, unusual armor, damage) takes age's own reader, which decides what
        // is valid and reports the error.
        if let Some(binary) = dearmor(armored) {
            self.decrypt_into(&binary[..], &mut plaintext)?;
        } else {
            self.decrypt_into(ArmoredReader::new(armored.as_bytes()), &mut plaintext)?;
        }
        Vault::from_plaintext(&plaintext)
    }

    fn decrypt_into<R: std::io::BufRead>(
        &self,
        input: R,
        plaintext: &mut Vec<u8>,
    ) -> Result<(), SecretsError> {
        let decryptor = Decryptor::new_buffered(input).map_err(decrypt_error)?;
        let identities = self
            .identities
            .iter()
            .rev()
            .map(|identity| identity as &dyn age::Identity);
        let mut reader = decryptor.decrypt(identities).map_err(decrypt_error)?;
        reader
            .read_to_end(plaintext)
            .map_err(|e| decrypt_error(DecryptError::Io(e)))?;
        Ok(())
    }

    /// Whether some identity of this keyring can decrypt this vault: `Ok(false)` when it was
    /// sealed to another key file (or to a key retired before it was re-sealed).
    ///
    /// Cheap, like [`Keyring::sealed_to_primary`]: the file key is unwrapped and the header MAC
    /// checked; the payload is not read, so a vault whose payload is damaged still counts.
    pub fn opens(&self, armored: &str) -> Result<bool, SecretsError> {
        let decryptor = decryptor(armored)?;
        let identities = self
            .identities
            .iter()
            .rev()
            .map(|identity| identity as &dyn age::Identity);
        match decryptor.decrypt(identities) {
            Ok(_) => Ok(true),
            Err(DecryptError::NoMatchingKeys) => Ok(false),
            Err(e) => Err(decrypt_error(e)),
        }
    }

    /// Whether the primary identity alone can decrypt this vault, i.e. whether the vault no
    /// longer needs re-sealing in the current rotation.
    ///
    /// X25519 stanzas do not name their recipient (age hides it on purpose), so this unwraps the
    /// file key with the primary identity and checks the header MAC; the payload is not read.
    pub fn sealed_to_primary(&self, armored: &str) -> Result<bool, SecretsError> {
        let decryptor = decryptor(armored)?;
        match decryptor.decrypt(iter::once(self.primary() as &dyn age::Identity)) {
            Ok(_) => Ok(true),
            Err(DecryptError::NoMatchingKeys) => Ok(false),
            Err(e) => Err(decrypt_error(e)),
        }
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("recipients", &self.recipients())
            .field("fingerprint_key", &"***")
            .finish()
    }
}

fn decryptor(armored: &str) -> Result<Decryptor<ArmoredReader<BufReader<&[u8]>>>, SecretsError> {
    Decryptor::new_buffered(ArmoredReader::new(armored.as_bytes())).map_err(decrypt_error)
}

const ARMOR_BEGIN: &str = "-----BEGIN AGE ENCRYPTED FILE-----";
const ARMOR_END: &str = "-----END AGE ENCRYPTED FILE-----";
const ARMOR_COLUMNS: usize = 64;

/// Decodes strictly canonical armor (LF line ends, full 64-column lines but the last, padded
/// base64, nothing after the end line but one newline): the binary age file. `None` for
/// anything else, which age's `ArmoredReader` then judges, so this accepts nothing age would
/// reject. The ciphertext is not secret, so the buffer need not be zeroed.
fn dearmor(armored: &str) -> Option<Vec<u8>> {
    let body = armored.strip_prefix(ARMOR_BEGIN)?.strip_prefix('\n')?;
    let body = body.strip_suffix('\n').unwrap_or(body);
    let body = body.strip_suffix(ARMOR_END)?.strip_suffix('\n')?;
    let lines = body.len().div_ceil(ARMOR_COLUMNS + 1);
    let mut base64 = Vec::with_capacity(lines * ARMOR_COLUMNS);
    let mut rest = body.as_bytes();
    loop {
        if rest.len() <= ARMOR_COLUMNS {
            // The last line: 4 to 64 columns.
            if rest.is_empty() || rest.contains(&b'\n') {
                return None;
            }
            base64.extend_from_slice(rest);
            break;
        }
        let (line, tail) = rest.split_at(ARMOR_COLUMNS);
        let tail = tail.strip_prefix(b"\n")?;
        if line.contains(&b'\n') {
            return None;
        }
        base64.extend_from_slice(line);
        rest = tail;
    }
    BASE64.decode(&base64).ok()
}

fn decrypt_error(error: DecryptError) -> SecretsError {
    match error {
        DecryptError::NoMatchingKeys => SecretsError::NoMatchingKey,
        source => SecretsError::VaultCorrupt { source },
    }
}

fn decode_fingerprint_key(encoded: &str) -> Option<Zeroizing<[u8; FINGERPRINT_KEY_LEN]>> {
    let bytes = Zeroizing::new(BASE64.decode(encoded).ok()?);
    let mut key = Zeroizing::new([0; FINGERPRINT_KEY_LEN]);
    if bytes.len() != FINGERPRINT_KEY_LEN {
        return None;
    }
    key.copy_from_slice(&bytes);
    Some(key)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn vault() -> Vault {
        [
            ("destination/meta/accessToken", "EAAB-plaintext-token"),
            ("database/auth_token", "turso-plaintext-token"),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn seal_open_round_trip() {
        let keyring = Keyring::generate();
        let sealed = keyring.seal(&vault()).unwrap();
        assert!(sealed.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"));
        assert!(
            sealed
                .trim_end()
                .ends_with("-----END AGE ENCRYPTED FILE-----")
        );
        assert!(!sealed.contains("plaintext"));
        assert_eq!(keyring.open(&sealed).unwrap(), vault());
        assert!(keyring.sealed_to_primary(&sealed).unwrap());
    }

    #[test]
    fn canonical_armor_takes_the_fast_path_and_other_armor_still_opens() {
        let keyring = Keyring::generate();
        let sealed = keyring.seal(&vault()).unwrap();
        let binary = dearmor(&sealed).expect("seal writes canonical armor");
        let mut reader = ArmoredReader::new(sealed.as_bytes());
        let mut expected = Vec::new();
        reader.read_to_end(&mut expected).unwrap();
        assert_eq!(binary, expected);
        // Without the final newline (which age allows too) and with CRLF line ends, which
        // only age's reader accepts.
        let crlf = sealed.replace('\n', "\r\n");
        assert!(dearmor(&crlf).is_none());
        for variant in [sealed.trim_end(), &crlf] {
            assert_eq!(keyring.open(variant).unwrap(), vault());
        }
        // A body line of the wrong width is left to age, which rejects it.
        let mut lines: Vec<&str> = sealed.lines().collect();
        let joined = format!("{}{}", lines[1], lines[2]);
        lines.splice(1..3, [joined.as_str()]);
        let wide = lines.join("\n") + "\n";
        assert!(dearmor(&wide).is_none());
        assert!(matches!(
            keyring.open(&wide),
            Err(SecretsError::VaultCorrupt { .. })
        ));
    }

    #[test]
    fn empty_vault_round_trips() {
        let keyring = Keyring::generate();
        let sealed = keyring.seal(&Vault::new()).unwrap();
        assert_eq!(keyring.open(&sealed).unwrap(), Vault::new());
    }

    #[test]
    fn wrong_keyring_cannot_open() {
        let sealed = Keyring::generate().seal(&vault()).unwrap();
        let other = Keyring::generate();
        let err = other.open(&sealed).unwrap_err();
        assert!(matches!(err, SecretsError::NoMatchingKey), "{err:?}");
        assert!(!other.sealed_to_primary(&sealed).unwrap());
        assert!(!other.opens(&sealed).unwrap());
    }

    #[test]
    fn opens_tries_every_identity() {
        let mut keyring = Keyring::generate();
        let sealed = keyring.seal(&vault()).unwrap();
        assert!(keyring.opens(&sealed).unwrap());
        keyring.begin_rotation();
        assert!(!keyring.sealed_to_primary(&sealed).unwrap());
        assert!(keyring.opens(&sealed).unwrap());
        keyring.finish_rotation();
        assert!(!keyring.opens(&sealed).unwrap());
        assert!(matches!(
            keyring.opens("not age at all"),
            Err(SecretsError::VaultCorrupt { .. })
        ));
    }

    #[test]
    fn damaged_ciphertext_is_corrupt_not_a_wrong_key() {
        let keyring = Keyring::generate();
        let sealed = keyring.seal(&vault()).unwrap();
        for damaged in [
            String::new(),
            "not age at all".to_owned(),
            sealed[..sealed.len() / 2].to_owned(),
        ] {
            let err = keyring.open(&damaged).unwrap_err();
            assert!(matches!(err, SecretsError::VaultCorrupt { .. }), "{err:?}");
        }
        // Flip one base64 character of the payload (the last body line): the AEAD tag fails.
        let mut lines: Vec<String> = sealed.lines().map(str::to_owned).collect();
        let body = lines.len() - 2;
        let first = lines[body].remove(0);
        lines[body].insert(0, if first == 'A' { 'B' } else { 'A' });
        let err = keyring.open(&(lines.join("\n") + "\n")).unwrap_err();
        assert!(matches!(err, SecretsError::VaultCorrupt { .. }), "{err:?}");
    }

    #[test]
    fn file_text_round_trips() {
        let mut keyring = Keyring::generate();
        keyring.begin_rotation();
        let text = keyring.to_file_text();
        let parsed = Keyring::parse(&text).unwrap();
        assert_eq!(parsed.recipients(), keyring.recipients());
        assert_eq!(*parsed.fingerprint_key, *keyring.fingerprint_key);
        assert_eq!(*parsed.to_file_text(), *text);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.starts_with("AGE-SECRET-KEY-1"))
                .count(),
            2
        );
        assert!(
            lines
                .iter()
                .all(|l| l.starts_with('#') || l.starts_with("AGE-SECRET-KEY-1"))
        );
        assert!(text.contains(&format!("# public key: {}", keyring.primary_recipient())));
    }

    #[test]
    fn parse_tolerates_blank_lines_comments_and_crlf() {
        let keyring = Keyring::generate();
        let text = format!(
            "\r\n# hello\r\n\n{}",
            keyring.to_file_text().replace('\n', "\r\n")
        );
        assert_eq!(
            Keyring::parse(&text).unwrap().recipients(),
            keyring.recipients()
        );
    }

    #[test]
    fn parse_errors_name_the_line_not_the_content() {
        let keyring = Keyring::generate();
        let good = keyring.to_file_text();
        let identity_line = good
            .lines()
            .position(|l| l.starts_with("AGE-SECRET-KEY-1"))
            .unwrap();
        let fp_line = good
            .lines()
            .position(|l| l.starts_with(FINGERPRINT_KEY_PREFIX))
            .unwrap();
        let replace = |index: usize, with: &str| {
            let mut lines: Vec<String> = good.lines().map(str::to_owned).collect();
            lines[index] = with.to_owned();
            lines.join("\n")
        };
        let identity = good.lines().nth(identity_line).unwrap();
        let fp_text = good.lines().nth(fp_line).unwrap().to_owned();
        let cases = [
            // A damaged identity (last character changed breaks the checksum).
            (
                replace(
                    identity_line,
                    &format!("{}Q", &identity[..identity.len() - 1]),
                ),
                Some(identity_line + 1),
                "not a valid age X25519 identity",
            ),
            (
                replace(identity_line, &identity.to_lowercase()[3..]),
                Some(identity_line + 1),
                "expected a `#` comment",
            ),
            (
                replace(fp_line, "# c15t-fingerprint-key: c2hvcnQ="),
                Some(fp_line + 1),
                "not the base64 of 32 bytes",
            ),
            (
                format!("{}{fp_text}\n", *good),
                Some(good.lines().count() + 1),
                "a second",
            ),
            (
                replace(identity_line, "AGE-PLUGIN-YUBIKEY-1XYZ"),
                Some(identity_line + 1),
                "plugin identities are not supported",
            ),
            (
                replace(identity_line, "# gone"),
                None,
                "no `AGE-SECRET-KEY-1…`",
            ),
            (
                replace(fp_line, "# gone"),
                None,
                "no `# c15t-fingerprint-key:`",
            ),
        ];
        let secret_part = &identity["AGE-SECRET-KEY-1".len()..];
        let fp_part = fp_text[FINGERPRINT_KEY_PREFIX.len()..].trim();
        for (text, line, message) in cases {
            let err = Keyring::parse(&text).unwrap_err();
            let SecretsError::KeyFileInvalid {
                line: got_line,
                problem,
                ..
            } = &err
            else {
                panic!("unexpected error {err:?}");
            };
            assert_eq!(*got_line, line, "{err}");
            assert!(problem.contains(message), "{err}");
            let shown = format!("{err} {err:?}");
            if let Some(line) = line {
                assert!(shown.contains(&format!("line {line}")), "{shown}");
            }
            assert!(
                !shown.to_uppercase().contains(&secret_part[..20]),
                "{shown}"
            );
            assert!(!shown.contains(fp_part), "{shown}");
        }
    }

    #[test]
    fn debug_shows_no_key_material() {
        let keyring = Keyring::generate();
        let debug = format!("{keyring:?}");
        assert!(debug.contains(&keyring.primary_recipient()));
        assert!(!debug.contains("AGE-SECRET-KEY"));
        assert!(!debug.contains(&BASE64.encode(*keyring.fingerprint_key)));
    }

    #[test]
    fn fingerprint_format_and_key_dependence() {
        let a = Keyring::generate();
        let b = Keyring::generate();
        let fp = a.fingerprint(&Secret::from("value"));
        assert!(fp.as_str().starts_with("hmac-sha256:"));
        assert_eq!(fp.as_str().len(), "hmac-sha256:".len() + 32);
        assert_eq!(fp.as_str().parse::<Fingerprint>().unwrap(), fp);
        assert_ne!(b.fingerprint(&Secret::from("value")), fp);
    }

    #[test]
    fn fingerprint_is_hmac_sha256_of_the_value() {
        // Reference: Python's `hmac.new(b"\x0b" * 32, b"Hi There", hashlib.sha256).hexdigest()`.
        let keyring = Keyring {
            identities: vec![x25519::Identity::generate()],
            fingerprint_key: Zeroizing::new([0x0b; 32]),
        };
        assert_eq!(
            keyring.fingerprint(&Secret::from("Hi There")).as_str(),
            "hmac-sha256:198a607eb44bfbc69903a0f1cf2bbdc5"
        );
    }

    fn arb_vault() -> impl Strategy<Value = Vault> {
        proptest::collection::btree_map(any::<String>(), any::<String>(), 0..8)
            .prop_map(|map| map.into_iter().collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn arbitrary_vaults_round_trip(vault in arb_vault()) {
            let keyring = Keyring::generate();
            let sealed = keyring.seal(&vault)?;
            prop_assert_eq!(keyring.open(&sealed)?, vault);
        }
    }

    proptest! {
        #[test]
        fn fingerprint_is_deterministic_and_distinguishes_values(a in any::<String>(), b in any::<String>()) {
            let keyring = Keyring::generate();
            let fa = keyring.fingerprint(&Secret::from(a.as_str()));
            prop_assert_eq!(&fa, &keyring.fingerprint(&Secret::new(a.clone())));
            let reparsed = Keyring::parse(&keyring.to_file_text())?;
            prop_assert_eq!(&fa, &reparsed.fingerprint(&Secret::from(a.as_str())));
            if a != b {
                prop_assert_ne!(fa, keyring.fingerprint(&Secret::from(b.as_str())));
            }
        }
    }
}
