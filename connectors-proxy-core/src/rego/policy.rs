//! A compiled class policy and the pool of ready engines that evaluates it.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use regorus::utils::limits::ExecutionTimerConfig;
use regorus::{Engine, LimitError, Value};

use super::diagnostic::Diagnostic;
use super::{ExtractorInput, GeneratorInput, PolicyError};

/// The package every class policy is written in.
const PACKAGE: &str = "data.proxy";
/// The rule every class policy defines.
const RULE: &str = "data.proxy.auth";
/// The file name regorus reports in positions.
const FILE: &str = "policy.rego";
/// Interpreter steps between two clock reads of the execution timer.
const CHECK_INTERVAL: NonZeroU32 = NonZeroU32::new(32).unwrap();
/// Ready engines kept per policy when the machine's parallelism is unknown.
const FALLBACK_POOL: usize = 8;

/// What a class policy computes: the client token, or the tool credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    /// `spec.proxy.authExtractor.rego`: finds the client token in an incoming request.
    Extractor,
    /// `spec.auth.types[].generator.rego`: builds the credentials for the backend request.
    Generator,
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Extractor => "authExtractor",
            Self::Generator => "generator",
        })
    }
}

/// A class policy compiled once per class version; cheap to clone and safe to share.
///
/// Evaluation never parses or analyses the source again: it takes a ready engine from a small
/// pool (cloning the compiled template only when the pool is empty), evaluates `data.proxy.auth`
/// and puts the engine back.
#[derive(Clone)]
pub struct Policy {
    shared: Arc<Shared>,
}

struct Shared {
    kind: PolicyKind,
    rego_v0: bool,
    time_limit: Duration,
    template: Engine,
    idle: Mutex<Vec<Engine>>,
    pool_limit: usize,
}

impl Policy {
    /// The evaluation time limit used by [`Policy::compile`].
    pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_millis(50);

    /// Compiles a policy (Rego v1, or v0 when v1 does not parse) with the default time limit.
    pub fn compile(source: &str, kind: PolicyKind) -> Result<Self, PolicyError> {
        Self::compile_with_time_limit(source, kind, Self::DEFAULT_TIME_LIMIT)
    }

    /// Compiles a policy whose every evaluation is stopped after `time_limit`.
    pub fn compile_with_time_limit(
        source: &str,
        kind: PolicyKind,
        time_limit: Duration,
    ) -> Result<Self, PolicyError> {
        let (template, rego_v0) = match load(source, kind, false, time_limit) {
            Ok(engine) => (engine, false),
            Err(v1_error) => match load(source, kind, true, time_limit) {
                Ok(engine) => (engine, true),
                Err(_) => return Err(v1_error),
            },
        };
        let pool_limit = std::thread::available_parallelism()
            .map_or(FALLBACK_POOL, |n| 2 * n.get())
            .max(2);
        Ok(Self {
            shared: Arc::new(Shared {
                kind,
                rego_v0,
                time_limit,
                template,
                idle: Mutex::new(Vec::new()),
                pool_limit,
            }),
        })
    }

    /// Whether the policy is an extractor or a generator.
    pub fn kind(&self) -> PolicyKind {
        self.shared.kind
    }

    /// Whether the source only parsed with the older Rego v0 syntax.
    pub fn is_rego_v0(&self) -> bool {
        self.shared.rego_v0
    }

    /// The limit on one evaluation's duration.
    pub fn time_limit(&self) -> Duration {
        self.shared.time_limit
    }

    /// Fails unless the policy was compiled as `kind`.
    pub(super) fn expect_kind(&self, kind: PolicyKind) -> Result<(), PolicyError> {
        if self.shared.kind == kind {
            Ok(())
        } else {
            Err(PolicyError::WrongKind {
                expected: kind,
                actual: self.shared.kind,
            })
        }
    }

    /// Evaluates `data.proxy.auth` for one input; `Value::Undefined` when no rule applies.
    pub(super) fn evaluate(&self, input: Value) -> Result<Value, PolicyError> {
        let mut engine = self.take_engine();
        engine.set_input(input);
        let result = engine.eval_rule(RULE.to_owned());
        // Drop the request (and, for generators, the Secret) before the engine goes idle; a
        // `print` in the policy was gathered rather than written to stderr, and is discarded.
        engine.set_input(Value::Undefined);
        let _ = engine.take_prints();
        self.give_back(engine);
        result.map_err(|error| self.evaluation_error(&*error))
    }

    fn take_engine(&self) -> Engine {
        let idle = self
            .shared
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        idle.unwrap_or_else(|| self.shared.template.clone())
    }

    fn give_back(&self, engine: Engine) {
        let mut idle = self
            .shared
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.shared.pool_limit {
            idle.push(engine);
        }
    }

    fn evaluation_error(&self, error: &(dyn std::error::Error + 'static)) -> PolicyError {
        let timed_out = error
            .downcast_ref::<LimitError>()
            .is_some_and(|limit| matches!(limit, LimitError::TimeLimitExceeded { .. }));
        if timed_out {
            return PolicyError::TimedOut {
                limit: self.shared.time_limit,
            };
        }
        let diagnostic = Diagnostic::parse(&error.to_string());
        PolicyError::Evaluation {
            detail: diagnostic
                .safe_evaluation_message()
                .unwrap_or("details withheld as they may quote the input")
                .to_owned(),
            position: diagnostic.position,
        }
    }
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("kind", &self.shared.kind)
            .field("rego_v0", &self.shared.rego_v0)
            .field("time_limit", &self.shared.time_limit)
            .finish_non_exhaustive()
    }
}

/// Parses, analyses and prepares one engine for `data.proxy.auth`.
fn load(
    source: &str,
    kind: PolicyKind,
    rego_v0: bool,
    time_limit: Duration,
) -> Result<Engine, PolicyError> {
    let mut engine = Engine::new();
    engine.set_rego_v0(rego_v0);
    // `print` output is gathered (and dropped after each evaluation) instead of going to stderr,
    // where it could carry tokens and credentials.
    engine.set_gather_prints(true);
    engine.set_execution_timer_config(ExecutionTimerConfig {
        limit: time_limit,
        check_interval: CHECK_INTERVAL,
    });
    engine
        .add_policy(FILE.to_owned(), source.to_owned())
        .map_err(|error| PolicyError::Syntax {
            message: Diagnostic::parse(&error.to_string()).compile_message(),
        })?;
    let packages = engine.get_packages().map_err(invalid)?;
    if !packages.iter().any(|package| package == PACKAGE) {
        return Err(PolicyError::Invalid {
            message: "the policy must be written in `package proxy`".to_owned(),
        });
    }
    // Runs the analysis once on this engine (every clone starts prepared) and checks that the
    // rule exists; the compiled form it returns is not needed.
    engine
        .compile_with_entrypoint(&RULE.into())
        .map_err(
            |error| match error.to_string().contains("not a valid rule path") {
                true => PolicyError::Invalid {
                    message: "the policy must define the rule `auth`".to_owned(),
                },
                false => invalid(error),
            },
        )?;
    // regorus resolves function names during evaluation: one run on an empty request finds a
    // misspelt builtin on the common path at load time. The input is synthetic, so its error
    // report can be shown whole; other failures depend on real input and are left to requests.
    engine.set_input(empty_input(kind));
    let warm_up = engine.eval_rule(RULE.to_owned());
    engine.set_input(Value::Undefined);
    let _ = engine.take_prints();
    if let Err(error) = warm_up
        && error.to_string().contains("could not find function")
    {
        return Err(invalid(error));
    }
    Ok(engine)
}

/// A load-time error about the policy text.
fn invalid(error: impl fmt::Display) -> PolicyError {
    PolicyError::Invalid {
        message: Diagnostic::parse(&error.to_string()).compile_message(),
    }
}

/// The input of a request with nothing in it, for the load-time run.
fn empty_input(kind: PolicyKind) -> Value {
    let (parts, ()) = http::Request::new(()).into_parts();
    match kind {
        PolicyKind::Extractor => ExtractorInput::new(&parts, None).value,
        PolicyKind::Generator => GeneratorInput::new(&parts, &Default::default()).value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared_across_threads<T: Send + Sync + Clone + 'static>() {}

    #[test]
    fn a_policy_can_be_shared_across_threads() {
        shared_across_threads::<Policy>();
    }

    #[test]
    fn the_pool_keeps_engines_for_reuse_up_to_its_limit() {
        let source = "package proxy\nauth := {\"token\": \"t\"}\n";
        let policy = Policy::compile(source, PolicyKind::Extractor).unwrap();
        let idle = || policy.shared.idle.lock().unwrap().len();
        assert_eq!(idle(), 0);
        let taken: Vec<Engine> = (0..policy.shared.pool_limit + 3)
            .map(|_| policy.take_engine())
            .collect();
        for engine in taken {
            policy.give_back(engine);
        }
        assert_eq!(idle(), policy.shared.pool_limit);
        policy.evaluate(Value::new_object()).unwrap();
        assert_eq!(idle(), policy.shared.pool_limit);
    }
}
