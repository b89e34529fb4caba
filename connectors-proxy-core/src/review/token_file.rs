//! kube-apiserver's static token file: who each known token belongs to, in embedded mode.
//!
//! Each line is `token,user,uid[,"group1,group2"]`, CSV with optional quoting (a quoted field
//! ends on its own line); blank lines and lines starting with `#` are skipped. As in the API
//! server every user is in `system:authenticated`; a user named
//! `system:serviceaccount:<ns>:<name>` is also in `system:serviceaccounts` and
//! `system:serviceaccounts:<ns>`, the groups a real service-account token carries. Tokens are
//! hashed as they are read: the table holds only [`TokenHash`]es, and errors name line numbers,
//! never a token. Unlike the API server, which keeps the last of repeated tokens, a repeated
//! token is an error: it would be ambiguous whom the token names.
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::UserInfo;
use crate::secret::{SecretString, TokenHash};

/// The group every authenticated user belongs to.
const AUTHENTICATED_GROUP: &str = "system:authenticated";
/// The user-name prefix of service accounts.
const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:";
/// The group of all service accounts; `<this>:<ns>` is the group of one namespace's.
const SERVICE_ACCOUNTS_GROUP: &str = "system:serviceaccounts";

/// Why a token file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    /// The file could not be read.
    #[error("cannot read token file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The file was read but one of its lines is unusable.
    #[error("token file {path}: {source}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The unusable line.
        source: Box<TokenFileError>,
    },
    /// A line does not have the expected shape.
    #[error("line {line}: {reason}")]
    Malformed {
        /// The 1-based line number.
        line: u64,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Two lines hold the same token, so it would be ambiguous whom it names.
    #[error("line {line}: repeats the token of line {first}")]
    DuplicateToken {
        /// The 1-based line number of the repeat.
        line: u64,
        /// The 1-based line number where the token first appears.
        first: u64,
    },
}

/// The users of a static token file, keyed by the hash of their token.
#[derive(Debug, Clone, Default)]
pub struct TokenTable {
    users: HashMap<TokenHash, Arc<UserInfo>>,
}

impl TokenTable {
    /// Reads and parses a token file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, TokenFileError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| TokenFileError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|source| TokenFileError::Invalid {
            path: path.to_owned(),
            source: Box::new(source),
        })
    }

    /// Parses the text of a token file.
    pub fn parse(text: &str) -> Result<Self, TokenFileError> {
        let mut users = HashMap::new();
        let mut first_lines = HashMap::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index as u64 + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let record = read_line(raw, line)?;
            let (token, user) = parse_record(&record, line)?;
            let hash = TokenHash::of(token.expose());
            match first_lines.entry(hash) {
                Entry::Occupied(first) => {
                    return Err(TokenFileError::DuplicateToken {
                        line,
                        first: *first.get(),
                    });
                }
                Entry::Vacant(slot) => slot.insert(line),
            };
            users.insert(hash, Arc::new(user));
        }
        Ok(Self { users })
    }

    /// The user a token hash belongs to, when the file lists it.
    pub fn get(&self, hash: &TokenHash) -> Option<&Arc<UserInfo>> {
        self.users.get(hash)
    }

    /// How many tokens the table holds.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether the table holds no token.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

/// Reads one line as one CSV record; a quoted field never spans lines.
fn read_line(text: &str, line: u64) -> Result<csv::StringRecord, TokenFileError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut record = csv::StringRecord::new();
    match reader.read_record(&mut record) {
        Ok(true) => Ok(record),
        // A `&str` is valid UTF-8 and the reader is lenient, so this is unreachable in practice;
        // it still becomes an error naming the line rather than a panic.
        Ok(false) | Err(_) => Err(TokenFileError::Malformed {
            line,
            reason: "not valid CSV",
        }),
    }
}

/// Turns one record into its token and user; the token goes straight into a secret.
fn parse_record(
    record: &csv::StringRecord,
    line: u64,
) -> Result<(SecretString, UserInfo), TokenFileError> {
    let malformed = |reason| TokenFileError::Malformed { line, reason };
    if record.len() < 3 {
        return Err(malformed("expected at least 3 columns: token,user,uid"));
    }
    if record.len() > 4 {
        return Err(malformed(
            "expected at most 4 columns: token,user,uid,groups",
        ));
    }
    let token = SecretString::new(record[0].trim());
    if token.is_empty() {
        return Err(malformed("the token is empty"));
    }
    let username = record[1].trim().to_owned();
    if username.is_empty() {
        return Err(malformed("the user name is empty"));
    }
    let mut groups: Vec<String> = record
        .get(3)
        .into_iter()
        .flat_map(|column| column.split(','))
        .map(str::trim)
        .filter(|group| !group.is_empty())
        .map(str::to_owned)
        .collect();
    if let Some(namespace) = service_account_namespace(&username) {
        groups.push(SERVICE_ACCOUNTS_GROUP.to_owned());
        groups.push(format!("{SERVICE_ACCOUNTS_GROUP}:{namespace}"));
    }
    groups.push(AUTHENTICATED_GROUP.to_owned());
    dedup_keep_order(&mut groups);
    let user = UserInfo {
        username,
        uid: record[2].trim().to_owned(),
        groups,
        extra: Default::default(),
    };
    Ok((token, user))
}

/// The namespace of a `system:serviceaccount:<ns>:<name>` user name.
fn service_account_namespace(username: &str) -> Option<&str> {
    let rest = username.strip_prefix(SERVICE_ACCOUNT_PREFIX)?;
    let (namespace, name) = rest.split_once(':')?;
    (!namespace.is_empty() && !name.is_empty() && !name.contains(':')).then_some(namespace)
}

/// Removes repeated groups, keeping each one's first position.
fn dedup_keep_order(groups: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    groups.retain(|group| seen.insert(group.clone()));
}

#[cfg(test)]
mod tests;
