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

/// Check a compiled component: exactly one policy export (the world; `expect` must
/// match when given), and imports limited to granted capabilities and inert WASI.
pub fn check(
    engine: &Engine,
    component: &Component,
    path: &Path,
    expect: Option<World>,
    grants: &Grants,
) -> Result<World, LoadError> {
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
    for (name, _) in ty.imports(engine) {
        check_import(path, name, grants)?;
    }
    Ok(world)
}

fn check_import(path: &Path, name: &str, grants: &Grants) -> Result<(), LoadError> {
    let forbidden = |why| LoadError::ForbiddenImport {
        path: path.to_owned(),
        import: name.to_string(),
        why,
    };
    let Some((package, interface, version)) = split_name(name) else {
        return Err(forbidden("not an interface of linli:policy or WASI"));
    };
    if package == PACKAGE {
        check_version(path, name, version)?;
        return match CAPABILITIES.iter().find(|cap| cap.interface == interface) {
            Some(cap) if grants.allows(cap) => Ok(()),
            Some(cap) => Err(LoadError::NotGranted {
                path: path.to_owned(),
                capability: cap.interface,
            }),
            None => Err(forbidden(
                "this host provides no such linli:policy interface",
            )),
        };
    }
    if package.starts_with("wasi:") {
        let unversioned = format!("{package}/{interface}");
        return if wasi::ALLOWED_INTERFACES.contains(&unversioned.as_str()) {
            Ok(())
        } else {
            Err(forbidden("plugins have no files, network or outside world"))
        };
    }
    Err(forbidden("not an interface of linli:policy or WASI"))
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
    fn inert_wasi_is_allowed_and_files_or_sockets_are_not() {
        let path = Path::new("p.wasm");
        let none = Grants::none();
        assert!(check_import(path, "wasi:cli/stderr@0.2.6", &none).is_ok());
        assert!(check_import(path, "wasi:random/insecure-seed@0.2.0", &none).is_ok());
        for refused in [
            "wasi:filesystem/types@0.2.6",
            "wasi:sockets/tcp@0.2.6",
            "wasi:http/outgoing-handler@0.2.0",
        ] {
            let err = check_import(path, refused, &none).unwrap_err().to_string();
            assert!(err.contains(refused), "{err}");
        }
    }

    #[test]
    fn unknown_linli_interfaces_and_other_versions_are_refused() {
        let path = Path::new("p.wasm");
        let none = Grants::none();
        assert!(check_import(path, "linli:policy/log@0.1.0", &none).is_ok());
        assert!(check_import(path, "linli:policy/clock@0.1.3", &none).is_ok());
        let err = check_import(path, "linli:policy/network@0.1.0", &none).unwrap_err();
        assert!(
            err.to_string().contains("no such linli:policy interface"),
            "{err}"
        );
        let err = check_import(path, "linli:policy/log@0.2.0", &none).unwrap_err();
        assert!(err.to_string().contains("0.1.x"), "{err}");
    }

    #[test]
    fn a_capability_needs_its_grant() {
        let path = Path::new("p.wasm");
        let err = check_import(path, "linli:policy/kv@0.1.0", &Grants::none()).unwrap_err();
        assert!(err.to_string().contains("`kv`"), "{err}");
        let kv = Grants::parse(&["kv"]).unwrap();
        assert!(check_import(path, "linli:policy/kv@0.1.0", &kv).is_ok());
        assert!(check_import(path, "linli:policy/sales-read@0.1.0", &kv).is_err());
        let err = Grants::parse(&["network"]).unwrap_err();
        assert!(err.contains("kv, inventory-read, sales-read"), "{err}");
    }
}
