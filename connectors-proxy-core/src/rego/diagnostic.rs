//! regorus' multi-line error reports, reduced to one line that is safe to log.
//!
//! regorus reports an error as a source excerpt: `--> policy.rego:L:C`, the policy line, a caret
//! and `error: <message>`. Compile errors only quote the policy, so their message is kept.
//! Evaluation errors may quote input values (a type error shows the offending value), so only
//! their position is kept, unless the message is one of a few that can only name policy text.

/// Evaluation messages that name only policy text, never an input value.
const SAFE_EVALUATION_MESSAGES: [&str; 2] = ["could not find function", "rule conflicts with rule"];

/// The position and message of one regorus error report.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Diagnostic {
    /// `line L, column C`, or a phrase saying the position is unknown.
    pub(super) position: String,
    /// The text after `error:`, or the whole report when it has no such line.
    pub(super) message: String,
}

impl Diagnostic {
    /// Picks the position and message out of a regorus report.
    pub(super) fn parse(report: &str) -> Self {
        let position = report
            .lines()
            .find_map(|line| line.trim().strip_prefix("-->"))
            .and_then(|location| {
                let mut parts = location.trim().rsplitn(3, ':');
                let column: u32 = parts.next()?.parse().ok()?;
                let line: u32 = parts.next()?.parse().ok()?;
                Some(format!("line {line}, column {column}"))
            })
            .unwrap_or_else(|| "an unknown position".to_owned());
        let message = report
            .lines()
            .find_map(|line| line.trim().strip_prefix("error:"))
            .map_or_else(|| report.trim().to_owned(), |m| m.trim().to_owned());
        Self { position, message }
    }

    /// `<position>: <message>`, for errors about policy text only.
    pub(super) fn compile_message(&self) -> String {
        format!("{}: {}", self.position, self.message)
    }

    /// The message if it cannot hold an input value, else `None`.
    pub(super) fn safe_evaluation_message(&self) -> Option<&str> {
        SAFE_EVALUATION_MESSAGES
            .iter()
            .any(|safe| self.message.starts_with(safe))
            .then_some(self.message.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TYPE_ERROR: &str = "\n--> policy.rego:2:56\n  |\n2 | auth := x + 1\n  |   ^\n\
                              error: `add` expects numeric argument. Got `\"tok\"` instead";

    #[test]
    fn reads_position_and_message() {
        let diagnostic = Diagnostic::parse(TYPE_ERROR);
        assert_eq!(diagnostic.position, "line 2, column 56");
        assert!(diagnostic.message.starts_with("`add` expects"));
        assert_eq!(diagnostic.safe_evaluation_message(), None);
    }

    #[test]
    fn keeps_messages_that_only_name_policy_text() {
        let report = "\n--> policy.rego:3:22\n  |\nerror: could not find function foo";
        let diagnostic = Diagnostic::parse(report);
        assert_eq!(
            diagnostic.safe_evaluation_message(),
            Some("could not find function foo")
        );
        assert_eq!(
            diagnostic.compile_message(),
            "line 3, column 22: could not find function foo"
        );
    }

    #[test]
    fn reports_without_a_position_are_kept_whole() {
        let diagnostic = Diagnostic::parse("not a valid rule path");
        assert_eq!(diagnostic.position, "an unknown position");
        assert_eq!(diagnostic.message, "not a valid rule path");
    }
}
