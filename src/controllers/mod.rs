//! The built-in controllers (layer 7). Each is an ordinary [`Controller`](crate::runtime::Controller)
//! on the public runtime API: a user's controller has exactly the same powers.
//!
//! - [`endpoints`]: Endpoints of Services, and the round-robin [`endpoints::Resolver`].
//! - [`node_lifecycle`]: unreachable nodes are tainted and their pods evicted.

pub mod endpoints;
pub mod node_lifecycle;
