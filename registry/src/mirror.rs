//! Mirroring another registry (federation between alliances): pull its index and every
//! bundle this registry lacks, verify each — the download's digest, the signature, a
//! signer that is a key of the member owning the namespace — and serve them read-only.

use crate::api::{AppState, Index};
use crate::db;
use linli_sdk::bundle::{Bundle, PublicKey};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// What one pull did.
#[derive(Debug, Default, Serialize)]
pub struct Pulled {
    pub fetched: usize,
    pub yank_changes: usize,
    /// Versions refused, with the reason.
    pub refused: Vec<String>,
}

/// Pull `origin` once (blocking).
pub fn pull(state: &AppState, origin: &str) -> Result<Pulled, String> {
    let origin = origin.trim_end_matches('/');
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(60)))
        .build()
        .into();
    let index: Index = agent
        .get(format!("{origin}/v1/index"))
        .call()
        .map_err(|err| format!("{origin}/v1/index: {err}"))?
        .body_mut()
        .read_json()
        .map_err(|err| format!("{origin}/v1/index: not an index: {err}"))?;
    let mut pulled = Pulled::default();
    {
        let mut conn = state
            .db
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for member in &index.members {
            let keys: Vec<(String, String)> = member
                .keys
                .iter()
                .filter_map(|key| PublicKey::from_hex(key).ok())
                .map(|key| (key.to_hex(), key.id()))
                .collect();
            let at = jiff::Timestamp::now().as_millisecond();
            if let Err(err) =
                db::add_member(&mut conn, &member.member, &keys, &member.namespaces, at)
            {
                pulled
                    .refused
                    .push(format!("member {}: {err}", member.member));
            }
        }
    }
    for version in &index.versions {
        let label = format!("{}/{} {}", version.namespace, version.name, version.version);
        let existing = {
            let conn = state
                .db
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            db::version(&conn, &version.namespace, &version.name, &version.version)
                .map_err(|err| err.to_string())?
        };
        if let Some(existing) = existing {
            if existing.sha256 != version.sha256 {
                pulled.refused.push(format!(
                    "{label}: the origin now serves different bytes than it did; published versions never change, so the mirror keeps its copy"
                ));
            } else if existing.yanked != version.yanked {
                let conn = state
                    .db
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                db::set_yanked(
                    &conn,
                    &version.namespace,
                    &version.name,
                    &version.version,
                    version.yanked,
                )
                .map_err(|err| err.to_string())?;
                pulled.yank_changes += 1;
            }
            continue;
        }
        match fetch(&agent, origin, &index, version) {
            Ok(bytes) => {
                let conn = state
                    .db
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                match state.blobs.keep(&conn, version, &bytes) {
                    Ok(()) => pulled.fetched += 1,
                    Err(err) => pulled.refused.push(format!("{label}: {err}")),
                }
            }
            Err(reason) => pulled.refused.push(format!("{label}: {reason}")),
        }
    }
    for reason in &pulled.refused {
        tracing::warn!(%origin, "mirror refused {reason}");
    }
    Ok(pulled)
}

/// Download one version's bundle and check it against the index.
fn fetch(
    agent: &ureq::Agent,
    origin: &str,
    index: &Index,
    version: &db::Version,
) -> Result<Vec<u8>, String> {
    let url = format!(
        "{origin}/v1/plugins/{}/{}/{}",
        version.namespace, version.name, version.version
    );
    let bytes = agent
        .get(&url)
        .call()
        .map_err(|err| format!("{url}: {err}"))?
        .body_mut()
        .with_config()
        .limit(linli_sdk::bundle::MAX_WASM_BYTES + (1 << 20))
        .read_to_vec()
        .map_err(|err| format!("{url}: {err}"))?;
    if hex::encode(Sha256::digest(&bytes)) != version.sha256 {
        return Err("the download does not hash to the index's sha256".into());
    }
    let bundle = Bundle::read(&bytes).map_err(|err| err.to_string())?;
    let signer = bundle.verify_signature().map_err(|err| err.to_string())?;
    if signer.to_hex() != version.signer {
        return Err(format!("signed by {}, not the index's signer", signer.id()));
    }
    let (namespace, name) = bundle.manifest.split_name();
    if (
        namespace,
        name,
        bundle.manifest.version.to_string().as_str(),
    ) != (
        version.namespace.as_str(),
        version.name.as_str(),
        version.version.as_str(),
    ) {
        return Err(format!(
            "the bundle is {} {}, not what the index says",
            bundle.manifest.name, bundle.manifest.version
        ));
    }
    let owner_keys = index
        .members
        .iter()
        .find(|member| member.namespaces.iter().any(|owned| owned == namespace))
        .map(|member| member.keys.clone())
        .unwrap_or_default();
    if !owner_keys.contains(&signer.to_hex()) {
        return Err(format!(
            "signed by {}, which is not a key of the member owning namespace {namespace}",
            signer.id()
        ));
    }
    Ok(bytes)
}
