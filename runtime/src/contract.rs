//! The load-time contract check: which world a component implements, and whether
//! everything it imports is something a linli plugin may use.

use super::capabilities::{CAPABILITIES, Grants, wasi};
use super::error::LoadError;
use super::world::World;
use std::path::Path;
use wasmtime::Engine;
use wasmtime::component::Component;

/// The contract package and the versions this host speaks: 0.1.x.
const PACKAGE: &str = "linli:policy";
const MAJOR_MINOR: (u64, u64) = (0, 1);

/// What the load-time check learned about a component.
pub struct Contract {
    pub world: World,
    /// Every import, as named in the component (`linli:policy/log@0.1.0`, ...).
    pub imports: Vec<String>,
}

/// Check a compiled component: exactly one policy export (the world; `expect` must
/// match when given), and imports limited to granted capabilities and inert WASI.
pub fn check(
    engine: &Engine,
    component: &Component,
    path: &Path,
    expect: Option<World>,
    grants: &Grants,
) -> Result<Contract, LoadError> {
    let ty = component.component_type();
    let mut worlds = Vec::new();
    for (name, _) in ty.exports(engine) {
        if let Some((package, interface, version)) = split_name(name)
            && package == PACKAGE
        {
            check_version(path, name, version)?;
            if let Some(world) = World::from_interface(interface) {
                worlds.push(world);
            }
        }
    }
    let world = match worlds.as_slice() {
        [] => {
            return Err(LoadError::NoWorld {
                path: path.to_owned(),
                expected: World::names(),
            });
        }
        [world] => *world,
        several => {
            return Err(LoadError::SeveralWorlds {
                path: path.to_owned(),
                found: several
                    .iter()
                    .map(|world| world.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    };
    if let Some(expected) = expect
        && expected != world
    {
        return Err(LoadError::WrongWorld {
            path: path.to_owned(),
            expected,
            found: world,
        });
    }
    let mut imports = Vec::new();
    let mut forbidden = Vec::new();
    let mut not_granted = Vec::new();
    for (name, _) in ty.imports(engine) {
        match check_import(path, name, grants)? {
            Verdict::Allowed => {}
            Verdict::NotGranted(capability) => not_granted.push(capability),
            Verdict::Forbidden(why) => forbidden.push(format!("`{name}` ({why})")),
        }
        imports.push(name.to_string());
    }
    // Name every offending import at once: the author fixes them all in one go.
    if !forbidden.is_empty() {
        return Err(LoadError::ForbiddenImport {
            path: path.to_owned(),
            imports: forbidden.join(", "),
        });
    }
    if !not_granted.is_empty() {
        return Err(LoadError::NotGranted {
            path: path.to_owned(),
            capabilities: not_granted,
        });
    }
    Ok(Contract { world, imports })
}

/// What the host makes of one import.
#[derive(Debug, PartialEq)]
enum Verdict {
    Allowed,
    NotGranted(&'static str),
    Forbidden(&'static str),
}

fn check_import(path: &Path, name: &str, grants: &Grants) -> Result<Verdict, LoadError> {
    let Some((package, interface, version)) = split_name(name) else {
        return Ok(Verdict::Forbidden(
            "not an interface of linli:policy or WASI",
        ));
    };
    if package == PACKAGE {
        check_version(path, name, version)?;
        return Ok(
            match CAPABILITIES.iter().find(|cap| cap.interface == interface) {
                Some(cap) if grants.allows(cap) => Verdict::Allowed,
                Some(cap) => Verdict::NotGranted(cap.interface),
                None => Verdict::Forbidden("this host provides no such linli:policy interface"),
            },
        );
    }
    if package.starts_with("wasi:") {
        let unversioned = format!("{package}/{interface}");
        return Ok(
            if wasi::ALLOWED_INTERFACES.contains(&unversioned.as_str()) {
                Verdict::Allowed
            } else {
                Verdict::Forbidden(wasi::refusal(&unversioned))
            },
        );
    }
    Ok(Verdict::Forbidden(
        "not an interface of linli:policy or WASI",
    ))
}

fn check_version(path: &Path, name: &str, version: Option<&str>) -> Result<(), LoadError> {
    let parsed = version.and_then(|version| semver::Version::parse(version).ok());
    match parsed {
        Some(version) if (version.major, version.minor) == MAJOR_MINOR => Ok(()),
        _ => Err(LoadError::Contract {
            path: path.to_owned(),
            what: format!(
                "uses `{name}`, but this host speaks {PACKAGE}@{}.{}.x; rebuild the plugin against a matching linli-sdk",
                MAJOR_MINOR.0, MAJOR_MINOR.1
            ),
        }),
    }
}

/// `ns:pkg/interface@1.2.3` → (`ns:pkg`, `interface`, `Some("1.2.3")`).
fn split_name(name: &str) -> Option<(&str, &str, Option<&str>)> {
    let (path, version) = match name.split_once('@') {
        Some((path, version)) => (path, Some(version)),
        None => (name, None),
    };
    let (package, interface) = path.split_once('/')?;
    Some((package, interface, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(name: &str, grants: &Grants) -> Verdict {
        check_import(Path::new("p.wasm"), name, grants).unwrap()
    }

    #[test]
    fn split_name_reads_package_interface_and_version() {
        assert_eq!(
            split_name("linli:policy/pricing-policy@0.1.0"),
            Some(("linli:policy", "pricing-policy", Some("0.1.0")))
        );
        assert_eq!(
            split_name("wasi:cli/stderr"),
            Some(("wasi:cli", "stderr", None))
        );
        assert_eq!(split_name("run"), None);
    }

    #[test]
    fn inert_wasi_is_allowed_and_files_sockets_or_sleeping_are_not() {
        let none = Grants::none();
        assert_eq!(verdict("wasi:cli/stderr@0.2.6", &none), Verdict::Allowed);
        assert_eq!(
            verdict("wasi:random/insecure-seed@0.2.0", &none),
            Verdict::Allowed
        );
        for refused in [
            "wasi:filesystem/types@0.2.6",
            "wasi:sockets/tcp@0.2.6",
            "wasi:http/outgoing-handler@0.2.0",
            "wasi:clocks/monotonic-clock@0.2.6",
        ] {
            assert!(
                matches!(verdict(refused, &none), Verdict::Forbidden(_)),
                "{refused}"
            );
        }
    }

    #[test]
    fn unknown_linli_interfaces_and_other_versions_are_refused() {
        let none = Grants::none();
        assert_eq!(verdict("linli:policy/log@0.1.0", &none), Verdict::Allowed);
        assert_eq!(verdict("linli:policy/clock@0.1.3", &none), Verdict::Allowed);
        assert!(matches!(
            verdict("linli:policy/network@0.1.0", &none),
            Verdict::Forbidden(_)
        ));
        let err = check_import(Path::new("p.wasm"), "linli:policy/log@0.2.0", &none).unwrap_err();
        assert!(err.to_string().contains("0.1.x"), "{err}");
    }

    #[test]
    fn a_capability_needs_its_grant() {
        assert_eq!(
            verdict("linli:policy/kv@0.1.0", &Grants::none()),
            Verdict::NotGranted("kv")
        );
        let kv = Grants::parse(&["kv"]).unwrap();
        assert_eq!(verdict("linli:policy/kv@0.1.0", &kv), Verdict::Allowed);
        assert_eq!(
            verdict("linli:policy/sales-read@0.1.0", &kv),
            Verdict::NotGranted("sales-read")
        );
        let err = Grants::parse(&["network"]).unwrap_err();
        assert!(err.contains("kv, inventory-read, sales-read"), "{err}");
    }
}
