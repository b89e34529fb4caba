//! A temporary manifests folder and token file for the embedded mode.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tempfile::TempDir;

/// The namespace every test connector lives in.
pub(crate) const NS: &str = "team-a";
/// The ConnectorClass every test connector uses.
pub(crate) const CLASS: &str = "http-tool";

const CLASS_YAML: &str = r#"apiVersion: connectors.alauda.io/v1alpha1
kind: ConnectorClass
metadata:
  name: http-tool
spec:
  auth:
    types:
      - name: basicAuth
        secretType: kubernetes.io/basic-auth
        params:
          - name: username
            type: string
          - name: password
            type: string
      - name: bearerToken
        secretType: connectors.cpaas.io/bearer-token
        params:
          - name: token
            type: string
      - name: anonymous
        secretType: kubernetes.io/basic-auth
        optional: true
  proxy:
    ref:
      kind: Service
      name: connectors-proxy-service
      namespace: connectors-system
"#;

/// A manifests folder (class, connectors, Secrets, RBAC) plus a static token file.
pub(crate) struct Manifests {
    dir: TempDir,
    token_file: PathBuf,
    token_lines: std::sync::Mutex<String>,
}

impl Manifests {
    /// A folder holding only the test ConnectorClass, and an empty token file.
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().expect("create the manifests dir");
        std::fs::create_dir(dir.path().join("manifests")).expect("create manifests/");
        let token_file = dir.path().join("tokens.csv");
        std::fs::write(&token_file, "").expect("write the token file");
        let manifests = Self {
            dir,
            token_file,
            token_lines: std::sync::Mutex::new(String::new()),
        };
        manifests.write("class.yaml", CLASS_YAML);
        manifests
    }

    /// The folder passed as `--manifests`.
    pub(crate) fn dir(&self) -> PathBuf {
        self.dir.path().join("manifests")
    }

    /// The file passed as `--token-file`.
    pub(crate) fn token_file(&self) -> &Path {
        &self.token_file
    }

    /// `--manifests DIR --token-file FILE`.
    pub(crate) fn args(&self) -> Vec<String> {
        vec![
            "--manifests".into(),
            self.dir().display().to_string(),
            "--token-file".into(),
            self.token_file.display().to_string(),
        ]
    }

    /// Writes (or atomically replaces) one file of the folder.
    pub(crate) fn write(&self, file: &str, content: &str) {
        let staging = self.dir.path().join(format!("{file}.partial"));
        std::fs::write(&staging, content).expect("write a manifest");
        std::fs::rename(&staging, self.dir().join(file)).expect("move a manifest into place");
    }

    /// A connector using the `basicAuth` type and its `kubernetes.io/basic-auth` Secret.
    pub(crate) fn basic_connector(&self, name: &str, address: &str, user: &str, password: &str) {
        self.connector(name, address, "basicAuth", true);
        self.basic_secret(name, user, password);
    }

    /// Writes the connector's basic-auth Secret (base64 `data`), replacing any earlier one.
    pub(crate) fn basic_secret(&self, name: &str, user: &str, password: &str) {
        let yaml = format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}-secret\n  namespace: {NS}\n\
             type: kubernetes.io/basic-auth\ndata:\n  username: {}\n  password: {}\n",
            STANDARD.encode(user),
            STANDARD.encode(password),
        );
        self.write(&format!("secret-{name}.yaml"), &yaml);
    }

    /// A connector using the `bearerToken` type; its Secret uses `stringData`.
    pub(crate) fn bearer_connector(&self, name: &str, address: &str, token: &str) {
        self.connector(name, address, "bearerToken", true);
        let yaml = format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}-secret\n  namespace: {NS}\n\
             type: connectors.cpaas.io/bearer-token\nstringData:\n  token: \"{token}\"\n"
        );
        self.write(&format!("secret-{name}.yaml"), &yaml);
    }

    /// A connector using the optional `anonymous` type with no Secret.
    pub(crate) fn optional_connector(&self, name: &str, address: &str) {
        self.connector(name, address, "anonymous", false);
    }

    /// A connector of class `class` using auth type `auth`, with a Secret of `secret_type`
    /// whose `stringData` holds `data`.
    pub(crate) fn class_connector(
        &self,
        name: &str,
        class: &str,
        address: &str,
        auth: &str,
        secret_type: &str,
        data: &[(&str, &str)],
    ) {
        let yaml = format!(
            "apiVersion: connectors.alauda.io/v1alpha1\nkind: Connector\nmetadata:\n  \
             name: {name}\n  namespace: {NS}\nspec:\n  connectorClassName: {class}\n  \
             address: \"{address}\"\n  auth:\n    name: {auth}\n    secretRef:\n      \
             name: {name}-secret\n"
        );
        self.write(&format!("connector-{name}.yaml"), &yaml);
        let mut yaml = format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}-secret\n  namespace: {NS}\n\
             type: {secret_type}\nstringData:\n"
        );
        for (key, value) in data {
            writeln!(yaml, "  {key}: \"{value}\"").unwrap();
        }
        self.write(&format!("secret-{name}.yaml"), &yaml);
    }

    fn connector(&self, name: &str, address: &str, auth: &str, with_secret: bool) {
        let mut yaml = format!(
            "apiVersion: connectors.alauda.io/v1alpha1\nkind: Connector\nmetadata:\n  \
             name: {name}\n  namespace: {NS}\nspec:\n  connectorClassName: {CLASS}\n  \
             address: \"{address}\"\n  auth:\n    name: {auth}\n"
        );
        if with_secret {
            writeln!(yaml, "    secretRef:\n      name: {name}-secret").unwrap();
        }
        self.write(&format!("connector-{name}.yaml"), &yaml);
    }

    /// Lets ServiceAccount `sa` of [`NS`] `get` the named connectors (Role + RoleBinding).
    pub(crate) fn grant(&self, sa: &str, connectors: &[&str]) {
        let names = connectors
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let yaml = format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  \
             name: use-{sa}\n  namespace: {NS}\nrules:\n  - apiGroups: [\"connectors.alauda.io\"]\n    \
             resources: [\"connectors\"]\n    resourceNames: [{names}]\n    verbs: [\"get\"]\n\
             ---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  \
             name: use-{sa}\n  namespace: {NS}\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  \
             kind: Role\n  name: use-{sa}\nsubjects:\n  - kind: ServiceAccount\n    name: {sa}\n    \
             namespace: {NS}\n"
        );
        self.write(&format!("rbac-{sa}.yaml"), &yaml);
    }

    /// Adds a token of ServiceAccount `sa` in [`NS`] to the token file.
    pub(crate) fn service_account_token(&self, token: &str, sa: &str) {
        self.user_token(token, &format!("system:serviceaccount:{NS}:{sa}"), &[]);
    }

    /// Adds a token line `token,user,uid,"groups"` to the token file.
    pub(crate) fn user_token(&self, token: &str, user: &str, groups: &[&str]) {
        let mut lines = self.token_lines.lock().unwrap();
        let uid = format!("uid-{}", lines.lines().count());
        writeln!(lines, "{token},{user},{uid},\"{}\"", groups.join(",")).unwrap();
        std::fs::write(&self.token_file, lines.as_bytes()).expect("write the token file");
    }
}
