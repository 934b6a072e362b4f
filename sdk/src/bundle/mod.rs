//! Plugin bundles (`<namespace>-<name>-<version>.linli`): a gzipped tar archive of
//! `plugin.toml` (the [`Manifest`]), `plugin.wasm` (the component) and `plugin.sig` (a
//! detached ed25519 [`Signature`] over the digests of both; absent until the bundle is
//! signed). Reading a bundle refuses anything else in the archive, a path that is not
//! one of the three names, and sizes past the limits; verifying refuses an unsigned
//! bundle, a signature that does not cover these exact bytes, or a signer the caller
//! does not trust.
//!
//! Shared by the `linli` CLI, the store daemon and the registry.

mod manifest;
mod signature;

pub use manifest::{
    CAPABILITIES, IDENTIFIER_PATTERN, Manifest, ManifestLimits, POLICY_VERSION, Setting,
    SettingKind, WORLDS, is_identifier,
};
pub use signature::{
    AUTH_SCHEME, MAX_REQUEST_SKEW_MS, PublicKey, SecretKey, Signature, verify_request,
};

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
/// The largest bundle file: a component of [`MAX_WASM_BYTES`] that does not compress,
/// its manifest and signature at their limits, and the archive's headers and gzip's
/// framing, with room to spare. Whoever takes bundles (over HTTP, from a registry)
/// takes this much.
pub const MAX_BUNDLE_BYTES: u64 = MAX_WASM_BYTES + (1 << 20);
const _: () = assert!(MAX_MANIFEST_BYTES + MAX_SIGNATURE_BYTES < (1 << 20) / 2);

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("not a bundle: {0}")]
    Archive(String),
    #[error("plugin.toml: {0}")]
    Manifest(String),
    #[error("signature: {0}")]
    Signature(String),
    #[error("the bundle is not signed; sign it with `linli plugin sign BUNDLE --key KEY`")]
    Unsigned,
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
    pub signature: Option<Signature>,
}

impl Bundle {
    /// A bundle of a manifest and a component, signed with `key` when given.
    pub fn new(
        manifest_text: &str,
        wasm: Vec<u8>,
        key: Option<&SecretKey>,
    ) -> Result<Bundle, BundleError> {
        let manifest = Manifest::parse(manifest_text)?;
        if !wasm.starts_with(b"\0asm") {
            return Err(BundleError::Archive(
                "plugin.wasm: not a WebAssembly file".into(),
            ));
        }
        let mut bundle = Bundle {
            manifest,
            manifest_bytes: manifest_text.as_bytes().to_vec(),
            wasm,
            signature: None,
        };
        if let Some(key) = key {
            bundle.sign(key);
        }
        Ok(bundle)
    }

    /// Sign (or sign again, replacing the signature) with `key`.
    pub fn sign(&mut self, key: &SecretKey) {
        self.signature = Some(key.sign(&self.manifest_bytes, &self.wasm));
    }

    /// The archive's bytes.
    pub fn to_archive(&self) -> Result<Vec<u8>, BundleError> {
        let signature = self.signature.as_ref().map(Signature::to_json);
        let mut archive = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
        let entries = [
            (MANIFEST_FILE, Some(self.manifest_bytes.as_slice())),
            (WASM_FILE, Some(self.wasm.as_slice())),
            (SIGNATURE_FILE, signature.as_ref().map(String::as_bytes)),
        ];
        for (name, bytes) in entries {
            let Some(bytes) = bytes else { continue };
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
        let text = std::str::from_utf8(&manifest_bytes)
            .map_err(|_| BundleError::Manifest("not UTF-8 text".into()))?;
        Ok(Bundle {
            manifest: Manifest::parse(text)?,
            signature: signature
                .map(|bytes| Signature::parse(&bytes))
                .transpose()?,
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
        self.signature
            .as_ref()
            .ok_or(BundleError::Unsigned)?
            .verify(&self.manifest_bytes, &self.wasm)
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

    fn pack(manifest: &str, wasm: &[u8], key: &SecretKey) -> Vec<u8> {
        Bundle::new(manifest, wasm.to_vec(), Some(key))
            .unwrap()
            .to_archive()
            .unwrap()
    }

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
        let bytes = pack(MANIFEST, WASM, &key);
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
        let bundle = Bundle::read(&pack(MANIFEST, WASM, &key)).unwrap();
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
        changed.signature.as_mut().unwrap().key = SecretKey::generate().unwrap().public().to_hex();
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
                archive(&[("plugin.toml", MANIFEST.as_bytes()), ("plugin.sig", sig)]),
                "plugin.wasm is missing",
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
        let whole = pack(MANIFEST, WASM, &key);
        assert!(Bundle::read(&whole[..whole.len() / 2]).is_err());
    }

    #[test]
    fn an_unsigned_bundle_reads_but_does_not_verify_until_signed() {
        let mut bundle = Bundle::new(MANIFEST, WASM.to_vec(), None).unwrap();
        let read = Bundle::read(&bundle.to_archive().unwrap()).unwrap();
        let err = read.verify(|_| true).unwrap_err();
        assert!(matches!(err, BundleError::Unsigned), "{err}");
        assert!(err.to_string().contains("linli plugin sign"), "{err}");
        let key = SecretKey::generate().unwrap();
        bundle.sign(&key);
        let read = Bundle::read(&bundle.to_archive().unwrap()).unwrap();
        assert_eq!(
            read.verify(|candidate| *candidate == key.public()).unwrap(),
            key.public()
        );
    }

    #[test]
    fn a_signed_request_verifies_only_as_sent_and_only_while_fresh() {
        let key = SecretKey::generate().unwrap();
        let now = 1_800_000_000_000;
        let header = key.sign_request("POST", "/v1/plugins", now, b"bundle");
        let signer = verify_request(&header, "POST", "/v1/plugins", b"bundle", now + 1000).unwrap();
        assert_eq!(signer, key.public());
        for (method, path, body, at) in [
            ("PUT", "/v1/plugins", &b"bundle"[..], now),
            ("POST", "/v1/plugins/x", &b"bundle"[..], now),
            ("POST", "/v1/plugins", &b"bundlf"[..], now),
            (
                "POST",
                "/v1/plugins",
                &b"bundle"[..],
                now + MAX_REQUEST_SKEW_MS + 1,
            ),
        ] {
            assert!(verify_request(&header, method, path, body, at).is_err());
        }
        assert!(verify_request("Bearer x", "POST", "/v1/plugins", b"", now).is_err());
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
