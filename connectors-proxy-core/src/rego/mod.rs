//! Rego policies of ConnectorClasses: the `authExtractor` and the credential `generator`s.
//!
//! A policy is compiled once per class version with [`Policy::compile`] (package `proxy`, rule
//! `auth`, Rego v1 or the older v0 syntax) and evaluated per request:
//!
//! - an extractor ([`Policy::extract`]) reads [`ExtractorInput`] (the incoming request) and
//!   yields the client token, or `None` so that Basic/Bearer applies; [`token_source`] then tells
//!   which header or query parameter to strip before forwarding;
//! - a generator ([`Policy::generate`]) reads [`GeneratorInput`] (the Secret data and the backend
//!   request) and yields [`Generated`] credentials, put in place with [`apply_to_parts`] or
//!   [`merge_json_body`].
//!
//! Every evaluation is stopped after the policy's time limit (50 ms by default) by regorus'
//! cooperative execution timer. Errors name the problem and its position in the policy, never a
//! value from the input.

use std::time::Duration;

mod diagnostic;
mod extractor;
mod generator;
mod input;
mod policy;
mod query;

pub use extractor::{ExtractorInput, TokenSource, token_source};
pub use generator::{Generated, GeneratorInput, Position, apply_to_parts, merge_json_body};
pub use policy::{Policy, PolicyKind};
pub use query::strip_query_param;

/// Why a policy could not be compiled, evaluated or applied; no message carries an input value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The source parses neither as Rego v1 nor as v0 (the v1 error, with line and column).
    #[error("the Rego policy does not parse: {message}")]
    Syntax {
        /// regorus' description, with the position in the policy.
        message: String,
    },
    /// The source parses but is not a usable class policy (wrong package, no `auth` rule, …).
    #[error("the Rego policy is invalid: {message}")]
    Invalid {
        /// What is wrong with the policy.
        message: String,
    },
    /// Evaluation failed; regorus' message is kept only when it cannot quote the input.
    #[error("the Rego policy failed during evaluation at {position}: {detail}")]
    Evaluation {
        /// `line L, column C` in the policy.
        position: String,
        /// What went wrong, or a note that the details were withheld.
        detail: String,
    },
    /// Evaluation ran past the time limit and was stopped.
    #[error("the Rego policy did not finish within {limit:?}")]
    TimedOut {
        /// The limit that was exceeded.
        limit: Duration,
    },
    /// The generator's `auth` is not a usable credential document.
    #[error("the Rego generator produced unusable output: {message}")]
    Output {
        /// Which field is wrong and how, without its value.
        message: String,
    },
    /// Generated credentials cannot be put into the request.
    #[error("the generated credentials cannot be applied: {message}")]
    Apply {
        /// What could not be applied, without the value.
        message: String,
    },
    /// The policy was compiled as the other kind.
    #[error("a Rego {actual} policy was used as a {expected}")]
    WrongKind {
        /// The kind the caller needed.
        expected: PolicyKind,
        /// The kind the policy was compiled as.
        actual: PolicyKind,
    },
}

impl PolicyError {
    /// Whether the evaluation was stopped by the time limit.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::TimedOut { .. })
    }
}
