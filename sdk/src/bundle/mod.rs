//! Plugin bundles (`<namespace>-<name>-<version>.linli`): a gzipped tar archive of
//! exactly three files — `plugin.toml` (the [`Manifest`]), `plugin.wasm` (the
//! component) and `plugin.sig` (a detached ed25519 [`Signature`] over the digests of
//! both). Reading a bundle refuses anything else in the archive, a path that is not one
//! of the three names, and sizes past the limits; verifying refuses a signature that
//! does not cover these exact bytes or a signer the caller does not trust.
//!
//! Shared by the `linli` CLI, the store daemon and the registry.

mod manifest;
mod signature;

pub use manifest::{
    CAPABILITIES, Manifest, ManifestLimits, POLICY_VERSION, Setting, SettingKind, WORLDS,
};
pub use signature::{PublicKey, SecretKey, Signature};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use std::io::Read;

pub const MANIFEST_FILE: &str = "plugin.toml";
pub const WASM_FILE: &str = "plugin.wasm";
pub const SIGNATURE_FILE: &str = "plugin.sig";
/// The extension of a bundle file.
pub const EXTENSION: &str = "linli";

/// The largest component a bundle may carry.
pub const MAX_WASM_BYTES: u64 = 32 << 20;
const MAX_MANIFEST_BYTES: u64 = 64 << 10;
const MAX_SIGNATURE_BYTES: u64 = 4 << 10;

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("not a bundle: {0}")]
    Archive(String),
    #[error("plugin.toml: {0}")]
    Manifest(String),
    #[error("signature: {0}")]
    Signature(String),
    #[error(
        "the signature by {signer} does not match the bundle's contents: the bundle was changed after signing (tampered or corrupted); get it again from its publisher"
    )]
    Tampered { signer: String },
    #[error(
        "signed by {signer}, a key this store does not trust; if you trust the publisher, add their key with `linli trust add`"
    )]
    UnknownSigner { signer: String },
    #[error("key: {0}")]
    Key(String),
}

/// A bundle read from its archive. Its parts are as the archive holds them; call
/// [`Bundle::verify`] before trusting any of them.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub manifest: Manifest,
    /// `plugin.toml` as signed.
    pub manifest_bytes: Vec<u8>,
    pub wasm: Vec<u8>,
    pub signature: Signature,
}

impl Bundle {
    /// Sign a manifest and a component into a bundle archive.
    pub fn pack(manifest_text: &str, wasm: &[u8], key: &SecretKey) -> Result<Vec<u8>, BundleError> {
        Manifest::parse(manifest_text)?;
        if !wasm.starts_with(b"\0asm") {
            return Err(BundleError::Archive(
                "plugin.wasm: not a WebAssembly file".into(),
            ));
        }
        let signature = key.sign(manifest_text.as_bytes(), wasm);
        let mut archive = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
        for (name, bytes) in [
            (MANIFEST_FILE, manifest_text.as_bytes()),
            (WASM_FILE, wasm),
            (SIGNATURE_FILE, signature.to_json().as_bytes()),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_entry_type(tar::EntryType::Regular);
            header.set_cksum();
            archive
                .append_data(&mut header, name, bytes)
                .map_err(|err| BundleError::Archive(format!("writing {name}: {err}")))?;
        }
        let encoder = archive
            .into_inner()
            .map_err(|err| BundleError::Archive(format!("writing: {err}")))?;
        encoder
            .finish()
            .map_err(|err| BundleError::Archive(format!("writing: {err}")))
    }

    /// Read a bundle archive. Refuses entries other than the three files, links,
    /// directories, paths that climb out (`../`) or are absolute, duplicates and
    /// oversized entries.
    pub fn read(bytes: &[u8]) -> Result<Bundle, BundleError> {
        let bad = |text: String| BundleError::Archive(text);
        if bytes.is_empty() {
            return Err(bad("the file is empty".into()));
        }
        let mut archive = tar::Archive::new(GzDecoder::new(bytes));
        let entries = archive
            .entries()
            .map_err(|err| bad(format!("not a gzipped tar archive: {err}")))?;
        let (mut manifest, mut wasm, mut signature) = (None, None, None);
        for entry in entries {
            let entry = entry.map_err(|err| bad(format!("corrupt archive: {err}")))?;
            let path = entry
                .path()
                .map_err(|err| bad(format!("an entry's path is unreadable: {err}")))?
                .to_string_lossy()
                .into_owned();
            if !entry.header().entry_type().is_file() {
                return Err(bad(format!(
                    "entry {path:?} is not a plain file; a bundle holds only {MANIFEST_FILE}, {WASM_FILE} and {SIGNATURE_FILE}"
                )));
            }
            let (slot, limit) = match path.as_str() {
                MANIFEST_FILE => (&mut manifest, MAX_MANIFEST_BYTES),
                WASM_FILE => (&mut wasm, MAX_WASM_BYTES),
                SIGNATURE_FILE => (&mut signature, MAX_SIGNATURE_BYTES),
                other => {
                    return Err(bad(format!(
                        "unexpected entry {other:?}; a bundle holds only {MANIFEST_FILE}, {WASM_FILE} and {SIGNATURE_FILE}"
                    )));
                }
            };
            if slot.is_some() {
                return Err(bad(format!("{path} appears twice")));
            }
            let mut content = Vec::new();
            entry
                .take(limit + 1)
                .read_to_end(&mut content)
                .map_err(|err| bad(format!("corrupt archive reading {path}: {err}")))?;
            if content.len() as u64 > limit {
                return Err(bad(format!("{path} is larger than {limit} bytes")));
            }
            *slot = Some(content);
        }
        let missing = |name: &str| bad(format!("{name} is missing"));
        let manifest_bytes = manifest.ok_or_else(|| missing(MANIFEST_FILE))?;
        let wasm = wasm.ok_or_else(|| missing(WASM_FILE))?;
        let signature = signature.ok_or_else(|| missing(SIGNATURE_FILE))?;
        let text = std::str::from_utf8(&manifest_bytes)
            .map_err(|_| BundleError::Manifest("not UTF-8 text".into()))?;
        Ok(Bundle {
            manifest: Manifest::parse(text)?,
            signature: Signature::parse(&signature)?,
            manifest_bytes,
            wasm,
        })
    }

    /// Check the signature covers this manifest and component, and was made by a key
    /// `trusted` accepts. Returns the signer.
    pub fn verify(&self, trusted: impl Fn(&PublicKey) -> bool) -> Result<PublicKey, BundleError> {
        let signer = self.verify_signature()?;
        if !trusted(&signer) {
            return Err(BundleError::UnknownSigner {
                signer: signer.id(),
            });
        }
        Ok(signer)
    }

    /// Check the signature covers this manifest and component, whoever made it.
    pub fn verify_signature(&self) -> Result<PublicKey, BundleError> {
        self.signature.verify(&self.manifest_bytes, &self.wasm)
    }

    /// The SHA-256 of the component, hex.
    pub fn wasm_digest(&self) -> String {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&self.wasm))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"name = "alliance/markdown"
version = "1.0.0"
world = "pricing"
policy = "^0.1"
description = "Marks down fresh goods near expiry"
license = "Apache-2.0"
"#;
    const WASM: &[u8] = b"\0asm\x0d\0\x01\0 a component, as far as a bundle cares";

    fn archive(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
        for (name, bytes) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            // Bypass the builder's own path checks, as a hostile archive would.
            let raw = &mut header.as_old_mut().name;
            raw[..name.len()].copy_from_slice(name.as_bytes());
            header.set_cksum();
            builder.append(&header, *bytes).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn a_packed_bundle_reads_back_and_verifies_with_its_signers_key() {
        let key = SecretKey::generate().unwrap();
        let bytes = Bundle::pack(MANIFEST, WASM, &key).unwrap();
        let bundle = Bundle::read(&bytes).unwrap();
        assert_eq!(bundle.manifest.name, "alliance/markdown");
        assert_eq!(bundle.wasm, WASM);
        let signer = bundle
            .verify(|candidate| *candidate == key.public())
            .unwrap();
        assert_eq!(signer, key.public());

        let stranger = SecretKey::generate().unwrap();
        let err = bundle
            .verify(|candidate| *candidate == stranger.public())
            .unwrap_err();
        assert!(matches!(err, BundleError::UnknownSigner { .. }), "{err}");
        assert!(err.to_string().contains("linli trust add"), "{err}");
    }

    #[test]
    fn any_changed_byte_of_manifest_or_wasm_breaks_the_signature() {
        let key = SecretKey::generate().unwrap();
        let bundle = Bundle::read(&Bundle::pack(MANIFEST, WASM, &key).unwrap()).unwrap();
        for index in 0..WASM.len() {
            let mut changed = bundle.clone();
            changed.wasm[index] ^= 1;
            let err = changed.verify(|_| true).unwrap_err();
            assert!(matches!(err, BundleError::Tampered { .. }), "{err}");
        }
        let mut changed = bundle.clone();
        changed.manifest_bytes = MANIFEST.replace("1.0.0", "1.0.1").into_bytes();
        assert!(matches!(
            changed.verify(|_| true),
            Err(BundleError::Tampered { .. })
        ));
        // A signature moved to another key's name does not verify either.
        let mut changed = bundle.clone();
        changed.signature.key = SecretKey::generate().unwrap().public().to_hex();
        assert!(matches!(
            changed.verify(|_| true),
            Err(BundleError::Tampered { .. })
        ));
    }

    #[test]
    fn malformed_archives_are_refused_with_the_reason() {
        let key = SecretKey::generate().unwrap();
        let signature = key.sign(MANIFEST.as_bytes(), WASM).to_json();
        let sig = signature.as_bytes();
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"not an archive at all".to_vec(), "gzip"),
            (Vec::new(), "empty"),
            (
                archive(&[("plugin.toml", MANIFEST.as_bytes()), ("plugin.wasm", WASM)]),
                "plugin.sig is missing",
            ),
            (
                archive(&[
                    ("plugin.toml", MANIFEST.as_bytes()),
                    ("plugin.wasm", WASM),
                    ("plugin.sig", sig),
                    ("../../etc/cron.d/evil", b"* * * * * root sh"),
                ]),
                "unexpected entry \"../../etc/cron.d/evil\"",
            ),
            (
                archive(&[
                    ("plugin.toml", MANIFEST.as_bytes()),
                    ("/plugin.wasm", WASM),
                    ("plugin.sig", sig),
                ]),
                "unexpected entry",
            ),
            (
                archive(&[
                    ("plugin.toml", MANIFEST.as_bytes()),
                    ("plugin.toml", MANIFEST.as_bytes()),
                ]),
                "twice",
            ),
            (
                archive(&[
                    ("plugin.toml", b"name = 3"),
                    ("plugin.wasm", WASM),
                    ("plugin.sig", sig),
                ]),
                "plugin.toml",
            ),
            (
                archive(&[
                    ("plugin.toml", MANIFEST.as_bytes()),
                    ("plugin.wasm", WASM),
                    ("plugin.sig", b"{}"),
                ]),
                "plugin.sig",
            ),
        ];
        for (bytes, expected) in cases {
            let err = Bundle::read(&bytes).unwrap_err().to_string();
            assert!(err.contains(expected), "{expected}: {err}");
        }
        // A truncated download.
        let whole = Bundle::pack(MANIFEST, WASM, &key).unwrap();
        assert!(Bundle::read(&whole[..whole.len() / 2]).is_err());
    }

    #[test]
    fn keys_round_trip_through_their_files_and_a_secret_key_is_no_public_key() {
        let key = SecretKey::generate().unwrap();
        let again = SecretKey::parse(&key.to_text()).unwrap();
        assert_eq!(again.public(), key.public());
        let (public, label) = PublicKey::parse(&key.public().to_text("alliance")).unwrap();
        assert_eq!((public, label.as_str()), (key.public(), "alliance"));
        assert!(PublicKey::parse(&key.to_text()).is_err());
        assert!(
            SecretKey::parse("hello")
                .unwrap_err()
                .to_string()
                .contains("linli key new")
        );
    }
}
