//! Exposition: Prometheus text 0.0.4, OpenMetrics 1.0.0 and the protobuf format,
//! chosen from an `Accept` header, and the registry's self-metrics.
//!
//! Output is deterministic: families sorted by name, series by label values (as
//! tuples), per-process series by owner. One pass over the directory makes the plan
//! (which series, in which order); rendering it reads the values and hands them to the
//! text encoder, which writes into the caller's buffer without per-series allocation.
//!
//! The parts, in the order data goes through them: `plan` (reads the family table and
//! the directory), `render` (reads cells), `text`, `proto` and `collect` (format or keep as data, read nothing), `format`
//! (the formats and `Accept` negotiation); `filter` restricts an exposition to some
//! families by name; `parse` reads exposition text back into families.

mod collect;
mod filter;
mod format;
mod parse;
pub(crate) mod plan;
mod proto;
pub(crate) mod render;
mod text;

pub use crate::inspect::{FamilyStats, Stats};
pub use filter::Filter;
pub use format::{negotiate, Format, Negotiated, Numbers};
pub use parse::{parse, ParsedExemplar, ParsedFamily, ParsedSample};
pub(crate) use text::write_f64;
pub use text::{render_external, ExternalFamily, ExternalSample};
