//! The policy worlds, declared once: the table at the end of this file. Every list the
//! runtime keeps of worlds and their functions (`World::ALL`, the calls, the answers,
//! the pre-instantiated components, parsing a call from JSON) is generated from it, so
//! a new policy kind is its WIT file, its module under `worlds/` (bindings, the check
//! of its answers, wire sizes) and one entry in the table.

use crate::bindings::types::PolicyError;
use crate::capabilities::CallState;
use crate::wire::WireSize;
use crate::worlds::*;
use serde::Serialize;
use std::fmt;
use wasmtime::Store;
use wasmtime::component::InstancePre;

/// One function a policy world exports, implemented by its argument type in the world's
/// module: how to call it on a fresh instance, and how the host checks its answer.
pub(crate) trait Function: Sized {
    /// The world's pre-instantiated component.
    type Pre;
    type Answer;
    /// The function's name in WIT.
    const NAME: &'static str;

    /// Instantiate `pre` in `store` and call the function with `self`.
    fn call(
        &self,
        pre: &Self::Pre,
        store: &mut Store<CallState>,
    ) -> Result<Result<Self::Answer, PolicyError>, Failure>;

    /// Check the plugin's answer against the call: a plugin is untrusted code, and an
    /// answer that breaks the contract (a price for the wrong line, a negative fee, more
    /// points than the customer has) is a bad output, never passed on.
    fn check(&self, answer: &Self::Answer) -> Result<(), String>;
}

/// Where a call failed: starting its instance, finding its exports, or running.
pub(crate) enum Failure {
    Instantiate(wasmtime::Error),
    /// An export of the world is missing or has another type than the contract's.
    Exports(wasmtime::Error),
    Run(wasmtime::Error),
}

/// The answer type of one call, taken out of a checked [`Answer`]: lets a caller that
/// made a call of one kind have that kind's answer without matching every variant.
pub trait AnswerOf: Sized {
    fn from_answer(answer: Answer) -> Option<Self>;
}

macro_rules! policy_worlds {
    ($(
        $(#[doc = $doc:literal])*
        $world:ident = $name:literal in $module:ident {
            $($function:ident($argument:ty) -> $answer:ident($answer_type:ty),)+
        }
    )+) => {
        /// A policy kind: one WIT world, exporting one interface.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "kebab-case")]
        pub enum World {
            $($(#[doc = $doc])* $world,)+
        }

        impl World {
            pub const ALL: [World; [$(World::$world),+].len()] = [$(World::$world),+];

            /// The world's name in `wit/`, e.g. `elderly-delivery`.
            pub fn name(self) -> &'static str {
                match self {
                    $(World::$world => $name,)+
                }
            }

            /// The interface the world exports, without package or version.
            pub fn interface(self) -> &'static str {
                match self {
                    $(World::$world => concat!($name, "-policy"),)+
                }
            }

            /// The functions of the exported interface, as named in WIT.
            pub fn functions(self) -> &'static [&'static str] {
                match self {
                    $(World::$world => &[$(<$argument as Function>::NAME),+],)+
                }
            }
        }

        /// One call into a plugin: the function and its argument.
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[serde(rename_all = "kebab-case")]
        pub enum Call {
            $($($function($argument),)+)+
        }

        impl Call {
            pub fn world(&self) -> World {
                match self {
                    $($(Call::$function(_) => World::$world,)+)+
                }
            }

            /// The WIT name of the function called.
            pub fn function(&self) -> &'static str {
                match self {
                    $($(Call::$function(_) => <$argument as Function>::NAME,)+)+
                }
            }

            /// The call of the WIT function `function` with its argument read from JSON.
            fn parse(function: &str, request: serde_json::Value) -> Option<serde_json::Result<Call>> {
                $($(
                    if function == <$argument as Function>::NAME {
                        return Some(serde_json::from_value(request).map(Call::$function));
                    }
                )+)+
                None
            }
        }

        /// What a plugin answered to a [`Call`], after the host checked it.
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[serde(untagged)]
        pub enum Answer {
            $($($answer($answer_type),)+)+
        }

        $($(
            impl AnswerOf for $answer_type {
                fn from_answer(answer: Answer) -> Option<Self> {
                    match answer {
                        Answer::$answer(value) => Some(value),
                        #[allow(unreachable_patterns)]
                        _ => None,
                    }
                }
            }
        )+)+

        impl Answer {
            /// Check a plugin's answer against the call it answers ([`Function::check`]).
            pub fn check(&self, call: &Call) -> Result<(), String> {
                match (call, self) {
                    $($((Call::$function(argument), Answer::$answer(answer)) => argument.check(answer),)+)+
                    #[allow(unreachable_patterns)]
                    (call, _) => Err(format!(
                        "answer does not match the call `{}`",
                        call.function()
                    )),
                }
            }
        }

        impl WireSize for Call {
            fn wire_size(&self) -> usize {
                match self {
                    $($(Call::$function(argument) => argument.wire_size(),)+)+
                }
            }
        }

        impl WireSize for Answer {
            fn wire_size(&self) -> usize {
                match self {
                    $($(Answer::$answer(answer) => answer.wire_size(),)+)+
                }
            }
        }

        /// The pre-instantiated component, typed by its world.
        #[derive(Clone)]
        pub(crate) enum WorldPre {
            $($world($module::Pre),)+
        }

        impl WorldPre {
            pub(crate) fn new(world: World, pre: InstancePre<CallState>) -> wasmtime::Result<WorldPre> {
                Ok(match world {
                    $(World::$world => WorldPre::$world($module::Pre::new(pre)?),)+
                })
            }

            /// Start an instance, check the type of every function the world exports
            /// (a `quote` that takes or returns the wrong thing fails here, not at its
            /// first call), and drop it, calling nothing.
            pub(crate) fn instantiate_checked(&self, store: &mut Store<CallState>) -> Result<(), Failure> {
                match self {
                    $(WorldPre::$world(pre) => {
                        let instance = pre
                            .instance_pre()
                            .instantiate(&mut *store)
                            .map_err(Failure::Instantiate)?;
                        $module::Exports::new(&mut *store, &instance)
                            .map(drop)
                            .map_err(Failure::Exports)
                    })+
                }
            }

            /// Run `call` in a fresh instance; the caller checked that the call is of
            /// this world.
            pub(crate) fn run(
                &self,
                store: &mut Store<CallState>,
                call: &Call,
            ) -> Result<Result<Answer, PolicyError>, Failure> {
                match (self, call) {
                    $($((WorldPre::$world(pre), Call::$function(argument)) => {
                        Ok(argument.call(pre, store)?.map(Answer::$answer))
                    })+)+
                    #[allow(unreachable_patterns)]
                    _ => unreachable!("Plugin::call checks the call's world first"),
                }
            }
        }
    };
}

impl World {
    pub fn from_name(name: &str) -> Option<World> {
        World::ALL.into_iter().find(|world| world.name() == name)
    }

    /// The world whose interface this is (`pricing-policy` → pricing).
    pub fn from_interface(interface: &str) -> Option<World> {
        World::ALL
            .into_iter()
            .find(|world| world.interface() == interface)
    }

    /// Every world's name, for error messages.
    pub fn names() -> String {
        World::ALL.map(World::name).join(", ")
    }
}

impl fmt::Display for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Call {
    /// Read the argument of a call to `world` from JSON. With `function` unset, the
    /// world's function whose argument the JSON fits is called (recycling-points has
    /// two); the error says, for each function, why the JSON does not fit.
    pub fn from_json(
        world: World,
        function: Option<&str>,
        request: serde_json::Value,
    ) -> Result<Call, String> {
        let candidates: Vec<&str> = match function {
            Some(name) if world.functions().contains(&name) => vec![name],
            Some(name) => {
                return Err(format!(
                    "world {world} has no function `{name}` (it has: {})",
                    world.functions().join(", ")
                ));
            }
            None => world.functions().to_vec(),
        };
        let mut misfits = Vec::new();
        for name in candidates {
            match Self::parse(name, request.clone()) {
                Some(Ok(call)) => return Ok(call),
                Some(Err(err)) => misfits.push(format!("not an argument of `{name}`: {err}")),
                None => misfits.push(format!("`{name}` is not a function of any world")),
            }
        }
        Err(misfits.join("; "))
    }
}

// The table. Each world: its variant, its WIT name, its module under `worlds/`, and per
// exported function the call's variant and argument, the answer's variant and type.
policy_worlds! {
    /// Dynamic prices at the till, with a reason for every change.
    Pricing = "pricing" in pricing {
        Quote(QuoteRequest) -> Quote(PriceQuote),
    }
    /// Whether a community presale campaign goes ahead.
    Presale = "presale" in presale {
        Evaluate(Campaign) -> Evaluation(Evaluation),
    }
    /// Errand-and-delivery for elderly or disabled residents.
    ElderlyDelivery = "elderly-delivery" in elderly_delivery {
        Plan(DeliveryRequest) -> Plan(DeliveryPlan),
    }
    /// Deposit refunds and points for returns, discounts for points.
    RecyclingPoints = "recycling-points" in recycling_points {
        OnReturn(ReturnEvent) -> ReturnAward(ReturnAward),
        OnRedeem(RedemptionRequest) -> RedemptionGrant(RedemptionGrant),
    }
    /// The anonymised report shared with the alliance.
    DataSharing = "data-sharing" in data_sharing {
        BuildReport(ReportRequest) -> Report(Report),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_world_is_named_once_and_found_by_its_names() {
        for world in World::ALL {
            assert_eq!(World::from_name(world.name()), Some(world));
            assert_eq!(World::from_interface(world.interface()), Some(world));
            assert!(!world.functions().is_empty(), "{world}");
        }
        let mut names: Vec<&str> = World::ALL.map(World::name).to_vec();
        names.dedup();
        assert_eq!(names.len(), World::ALL.len());
    }

    #[test]
    fn a_call_is_read_for_each_function_of_each_world() {
        for world in World::ALL {
            for function in world.functions() {
                // Every function is reachable by name; the JSON is the wrong shape, so
                // the error names the function rather than "no such function".
                let err = Call::from_json(world, Some(function), serde_json::json!(7)).unwrap_err();
                assert!(
                    err.contains(&format!("not an argument of `{function}`")),
                    "{err}"
                );
            }
        }
    }

    /// The worlds of `wit/`, each with the body of its declaration.
    fn wit_worlds() -> Vec<(String, String)> {
        let wit = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
        let mut worlds = Vec::new();
        for file in std::fs::read_dir(&wit).unwrap() {
            let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
            for (at, _) in text.match_indices("\nworld ") {
                let rest = &text[at + "\nworld ".len()..];
                let name = rest.split_whitespace().next().unwrap().to_string();
                let body = &rest[rest.find('{').unwrap() + 1..rest.find('}').unwrap()];
                worlds.push((name, body.to_string()));
            }
        }
        worlds.sort();
        worlds
    }

    #[test]
    fn the_table_has_every_world_of_the_wit_and_each_includes_the_host_imports() {
        let worlds = wit_worlds();
        let mut policies: Vec<&str> = worlds
            .iter()
            .map(|(name, _)| name.as_str())
            .filter(|name| *name != "host")
            .collect();
        let mut table: Vec<&str> = World::ALL.map(World::name).to_vec();
        policies.sort();
        table.sort();
        assert_eq!(
            policies, table,
            "wit/ and the policy_worlds! table disagree"
        );
        for (name, body) in &worlds {
            if name == "host" {
                continue;
            }
            let world = World::from_name(name).unwrap();
            let lines: Vec<&str> = body
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            assert_eq!(
                lines,
                [
                    "include host;".to_string(),
                    format!("export {};", world.interface())
                ],
                "world {name}: a policy world includes the host imports and exports its interface, nothing else"
            );
        }
    }

    #[test]
    fn the_host_world_imports_exactly_the_capabilities_of_the_table() {
        let (_, body) = wit_worlds()
            .into_iter()
            .find(|(name, _)| name == "host")
            .unwrap();
        let imports: Vec<&str> = body
            .lines()
            .filter_map(|line| line.trim().strip_prefix("import ")?.strip_suffix(';'))
            .collect();
        let capabilities: Vec<&str> = crate::capabilities::CAPABILITIES
            .iter()
            .map(|capability| capability.interface)
            .filter(|interface| *interface != "types")
            .collect();
        assert_eq!(
            imports, capabilities,
            "wit/host.wit and host_imports! disagree"
        );
    }
}
