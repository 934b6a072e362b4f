//! One module per policy world: its bindings, the types of its calls and answers, how
//! the host calls each function and checks its answer, and their wire sizes. The table
//! that lists them is in `world.rs`.

pub mod data_sharing;
pub mod elderly_delivery;
pub mod presale;
pub mod pricing;
pub mod recycling_points;

pub use data_sharing::*;
pub use elderly_delivery::*;
pub use presale::*;
pub use pricing::*;
pub use recycling_points::*;
