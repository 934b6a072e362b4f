//! Claims the pricing world, but its `quote` takes a string and returns a number: the
//! export's name is right, its type is not. Refused at load, never at a store's till.
//!
//! Only the wasm build is the component: natively the export's name (`linli:policy/…`)
//! is not a symbol a linker takes.

#[cfg(target_arch = "wasm32")]
mod component {
    wit_bindgen::generate!({
        inline: "
            package linli:policy@0.1.0;

            interface pricing-policy {
                quote: func(request: string) -> s64;
            }

            world pricing {
                export pricing-policy;
            }
        ",
    });

    struct WrongSignature;

    export!(WrongSignature);

    impl exports::linli::policy::pricing_policy::Guest for WrongSignature {
        fn quote(request: String) -> i64 {
            request.len() as i64
        }
    }
}
