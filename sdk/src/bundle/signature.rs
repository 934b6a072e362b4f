//! Publisher keys and bundle signatures: ed25519 over the SHA-256 digests of the
//! manifest and the component, with a domain prefix so a bundle signature can never be
//! replayed as anything else.

use super::BundleError;
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::Path;

const SECRET_TAG: &str = "linli-secret-key ed25519";
const PUBLIC_TAG: &str = "linli-public-key ed25519";
const DOMAIN: &[u8] = b"linli-bundle-v1\n";

/// A publisher's public key: who signed a bundle.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(VerifyingKey);

/// A publisher's signing key. Kept in a file only its owner can read.
pub struct SecretKey(SigningKey);

impl SecretKey {
    /// A new random key.
    pub fn generate() -> Result<SecretKey, BundleError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)
            .map_err(|err| BundleError::Key(format!("no randomness for a new key: {err}")))?;
        Ok(SecretKey(SigningKey::from_bytes(&seed)))
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// The key file's text.
    pub fn to_text(&self) -> String {
        format!("{SECRET_TAG} {}\n", hex::encode(self.0.to_bytes()))
    }

    pub fn parse(text: &str) -> Result<SecretKey, BundleError> {
        let hex_key = text
            .trim()
            .strip_prefix(SECRET_TAG)
            .ok_or_else(|| {
                BundleError::Key(format!(
                    "not a linli secret key (it starts `{SECRET_TAG}`); make one with `linli key new`"
                ))
            })?
            .trim();
        let bytes: [u8; 32] = hex::decode(hex_key)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| BundleError::Key("secret key: not 32 bytes of hex".into()))?;
        Ok(SecretKey(SigningKey::from_bytes(&bytes)))
    }

    pub fn read(path: &Path) -> Result<SecretKey, BundleError> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| BundleError::Key(format!("{}: cannot read: {err}", path.display())))?;
        SecretKey::parse(&text)
            .map_err(|err| BundleError::Key(format!("{}: {err}", path.display())))
    }

    /// Sign a registry request: the `Authorization` header value that proves the
    /// request comes from this key's owner (see [`verify_request`]).
    pub fn sign_request(&self, method: &str, path: &str, at_ms: i64, body: &[u8]) -> String {
        let signature = self.0.sign(&request_message(method, path, at_ms, body));
        format!(
            "{AUTH_SCHEME} key={},at={at_ms},sig={}",
            self.public().to_hex(),
            hex::encode(signature.to_bytes())
        )
    }

    /// Sign the digests of a manifest and a component.
    pub fn sign(&self, manifest: &[u8], wasm: &[u8]) -> Signature {
        let signature = self.0.sign(&signed_message(manifest, wasm));
        Signature {
            algorithm: "ed25519".into(),
            key: self.public().to_hex(),
            signature: hex::encode(signature.to_bytes()),
        }
    }
}

impl PublicKey {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0.to_bytes())
    }

    pub fn from_hex(text: &str) -> Result<PublicKey, BundleError> {
        let bytes: [u8; 32] = hex::decode(text.trim())
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| BundleError::Key("public key: not 32 bytes of hex".into()))?;
        VerifyingKey::from_bytes(&bytes)
            .map(PublicKey)
            .map_err(|err| BundleError::Key(format!("public key: {err}")))
    }

    /// A short, stable name for the key: `ed25519:` and the first 16 hex digits of the
    /// SHA-256 of the key.
    pub fn id(&self) -> String {
        let digest = Sha256::digest(self.0.to_bytes());
        format!("ed25519:{}", &hex::encode(digest)[..16])
    }

    /// The public key file's text: the key and, after it, a label.
    pub fn to_text(&self, label: &str) -> String {
        format!("{PUBLIC_TAG} {} {label}\n", self.to_hex())
    }

    /// Read a public key file's text (the label is returned too) or a bare hex key.
    pub fn parse(text: &str) -> Result<(PublicKey, String), BundleError> {
        let text = text.trim();
        let rest = text.strip_prefix(PUBLIC_TAG).unwrap_or(text).trim();
        let (key, label) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        if text.starts_with(SECRET_TAG) {
            return Err(BundleError::Key(
                "this is a secret key; give the `.pub` file, never the `.key` file".into(),
            ));
        }
        Ok((PublicKey::from_hex(key)?, label.trim().to_string()))
    }

    pub fn read(path: &Path) -> Result<(PublicKey, String), BundleError> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| BundleError::Key(format!("{}: cannot read: {err}", path.display())))?;
        PublicKey::parse(&text)
            .map_err(|err| BundleError::Key(format!("{}: {err}", path.display())))
    }
}

impl fmt::Debug for SecretKey {
    /// Never the key itself: only whose it is.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(for {})", self.public().id())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.id())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id())
    }
}

/// `plugin.sig`: the detached signature of a bundle and the key that made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    pub algorithm: String,
    /// The signer's public key, hex.
    pub key: String,
    /// The ed25519 signature, hex.
    pub signature: String,
}

impl Signature {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a signature serialises")
    }

    pub fn parse(text: &[u8]) -> Result<Signature, BundleError> {
        serde_json::from_slice(text)
            .map_err(|err| BundleError::Signature(format!("plugin.sig is not a signature: {err}")))
    }

    /// The key that claims to have signed.
    pub fn signer(&self) -> Result<PublicKey, BundleError> {
        if self.algorithm != "ed25519" {
            return Err(BundleError::Signature(format!(
                "algorithm {:?}: only ed25519 signatures are accepted",
                self.algorithm
            )));
        }
        PublicKey::from_hex(&self.key)
    }

    /// Check that the signer signed exactly this manifest and component.
    pub fn verify(&self, manifest: &[u8], wasm: &[u8]) -> Result<PublicKey, BundleError> {
        let signer = self.signer()?;
        let bytes: [u8; 64] = hex::decode(&self.signature)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| BundleError::Signature("signature: not 64 bytes of hex".into()))?;
        let signature = ed25519_dalek::Signature::from_bytes(&bytes);
        signer
            .0
            .verify(&signed_message(manifest, wasm), &signature)
            .map_err(|_| BundleError::Tampered {
                signer: signer.id(),
            })?;
        Ok(signer)
    }
}

/// What a bundle signature covers.
fn signed_message(manifest: &[u8], wasm: &[u8]) -> Vec<u8> {
    let mut message = DOMAIN.to_vec();
    message.extend_from_slice(
        format!(
            "plugin.toml sha256:{}\nplugin.wasm sha256:{}\n",
            hex::encode(Sha256::digest(manifest)),
            hex::encode(Sha256::digest(wasm))
        )
        .as_bytes(),
    );
    message
}

/// The `Authorization` scheme of signed registry requests.
pub const AUTH_SCHEME: &str = "Linli-Ed25519";
/// How far a signed request's time may be from the server's clock.
pub const MAX_REQUEST_SKEW_MS: i64 = 5 * 60_000;

/// What a registry request signature covers: method, path, time and the body's digest.
fn request_message(method: &str, path: &str, at_ms: i64, body: &[u8]) -> Vec<u8> {
    format!(
        "linli-request-v1\n{method}\n{path}\n{at_ms}\nsha256:{}\n",
        hex::encode(Sha256::digest(body))
    )
    .into_bytes()
}

/// Check a signed registry request's `Authorization` header against the request and
/// the server's clock; the key that signed it.
pub fn verify_request(
    header: &str,
    method: &str,
    path: &str,
    body: &[u8],
    now_ms: i64,
) -> Result<PublicKey, BundleError> {
    let bad = |what: &str| {
        BundleError::Signature(format!(
            "authorization: {what}; sign the request with a member key (`{AUTH_SCHEME} key=..,at=..,sig=..`)"
        ))
    };
    let fields = header
        .trim()
        .strip_prefix(AUTH_SCHEME)
        .ok_or_else(|| bad("not a signed request"))?;
    let mut key = None;
    let mut at = None;
    let mut sig = None;
    for field in fields.trim().split(',') {
        match field.trim().split_once('=') {
            Some(("key", value)) => key = Some(value),
            Some(("at", value)) => at = value.parse::<i64>().ok(),
            Some(("sig", value)) => sig = Some(value),
            _ => return Err(bad("unreadable field")),
        }
    }
    let key = PublicKey::from_hex(key.ok_or_else(|| bad("no key"))?)?;
    let at = at.ok_or_else(|| bad("no time"))?;
    if (now_ms - at).abs() > MAX_REQUEST_SKEW_MS {
        return Err(bad(
            "signed too long ago or in the future (check the clock)",
        ));
    }
    let bytes: [u8; 64] = hex::decode(sig.ok_or_else(|| bad("no signature"))?)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| bad("signature is not 64 bytes of hex"))?;
    key.0
        .verify(
            &request_message(method, path, at, body),
            &ed25519_dalek::Signature::from_bytes(&bytes),
        )
        .map_err(|_| bad("the signature does not match this request"))?;
    Ok(key)
}
