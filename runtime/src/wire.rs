//! The size of a value as the canonical ABI lays it out, roughly: what a call moves
//! across the sandbox boundary. Counted by walking the value, without encoding it, so
//! that the input and output caps cost next to nothing on every call.

use crate::bindings::types::{BasketLine, CustomerRef};

pub trait WireSize {
    fn wire_size(&self) -> usize;
}

/// A string or list header (pointer and length).
const HEADER: usize = 8;

impl WireSize for String {
    fn wire_size(&self) -> usize {
        HEADER + self.len()
    }
}

impl<T: WireSize> WireSize for Option<T> {
    fn wire_size(&self) -> usize {
        8 + self.as_ref().map_or(0, WireSize::wire_size)
    }
}

impl<T: WireSize> WireSize for Vec<T> {
    fn wire_size(&self) -> usize {
        HEADER + self.iter().map(WireSize::wire_size).sum::<usize>()
    }
}

/// Records: the fixed part (numbers, flags, enums) plus their strings and lists.
macro_rules! wire_size {
    ($type:ty, $fixed:expr, |$value:ident| $variable:expr) => {
        impl $crate::wire::WireSize for $type {
            fn wire_size(&self) -> usize {
                #[allow(unused_imports)]
                use $crate::wire::WireSize as _;
                let $value = self;
                $fixed + $variable
            }
        }
    };
}
pub(crate) use wire_size;

wire_size!(BasketLine, 40, |line| line.sku.wire_size()
    + line.category.wire_size()
    + line.batch.wire_size());
wire_size!(CustomerRef, 8, |customer| customer.pseudonym.wire_size());
