//! # steady
//!
//! An embeddable reconciliation engine: Kubernetes-style declarative state management inside
//! one host process.

#![warn(missing_docs)]

pub mod api;
pub mod clock;

#[doc(hidden)]
pub mod __private {
    pub use serde_json;
}
pub mod error;
pub mod store;

pub use error::{Error, ObjectRef, Result};
pub mod client;
pub mod engine;
pub mod manifest;
pub mod runtime;

pub use engine::{Engine, EngineBuilder};

/// The README's Rust examples, compiled and run as doctests so they cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
