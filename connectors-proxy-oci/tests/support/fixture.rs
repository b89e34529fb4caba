//! Manifests and the token file for a proxy in front of one registry.

use std::fmt::Write as _;
use std::path::Path;

/// A registry connector: name, Secret login (if any), and whether the client may use it.
pub(crate) struct Conn<'a> {
    pub(crate) name: &'a str,
    pub(crate) login: Option<(&'a str, &'a str)>,
    pub(crate) granted: bool,
}

/// The client's ServiceAccount token, and one that is not a valid token at all.
pub(crate) const CLIENT_TOKEN: &str = "sa-token-builder";
/// A valid token of a ServiceAccount with no RBAC.
pub(crate) const OUTSIDER_TOKEN: &str = "sa-token-outsider";

/// Writes class, connectors, Secrets, RBAC and the token file into `dir`.
pub(crate) fn write(dir: &Path, registry: &str, secret_type: &str, conns: &[Conn<'_>]) {
    let mut yaml = String::from(
        "apiVersion: connectors.alauda.io/v1alpha1\nkind: ConnectorClass\nmetadata:\n  name: oci\nspec:\n  auth:\n    types:\n      - name: tokenAuth\n        secretType: cpaas.io/distribution-registry-token\n        optional: true\n      - name: basicAuth\n        secretType: kubernetes.io/basic-auth\n        optional: true\n  proxy:\n    ref:\n      kind: Service\n      name: connectors-oci-proxy\n      namespace: connectors-system\n",
    );
    let auth_name = if secret_type == "kubernetes.io/basic-auth" {
        "basicAuth"
    } else {
        "tokenAuth"
    };
    for c in conns {
        write!(yaml, "---\napiVersion: connectors.alauda.io/v1alpha1\nkind: Connector\nmetadata:\n  name: {}\n  namespace: ns\nspec:\n  connectorClassName: oci\n  address: {registry}\n  auth:\n    name: {auth_name}\n", c.name).unwrap();
        if let Some((user, password)) = c.login {
            write!(yaml, "    secretRef:\n      name: {0}-login\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: {0}-login\n  namespace: ns\ntype: {secret_type}\nstringData:\n  username: {user}\n  password: {password}\n", c.name).unwrap();
        }
    }
    let granted: Vec<&str> = conns.iter().filter(|c| c.granted).map(|c| c.name).collect();
    write!(yaml, "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: pull-push\n  namespace: ns\nrules:\n  - apiGroups: [\"connectors.alauda.io\"]\n    resources: [\"connectors\"]\n    resourceNames: {granted:?}\n    verbs: [\"get\"]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: builder\n  namespace: ns\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: pull-push\nsubjects:\n  - kind: ServiceAccount\n    name: builder\n    namespace: ns\n").unwrap();
    std::fs::create_dir_all(dir.join("manifests")).unwrap();
    std::fs::write(dir.join("manifests/all.yaml"), yaml).unwrap();
    std::fs::write(
        dir.join("tokens.csv"),
        format!("{CLIENT_TOKEN},system:serviceaccount:ns:builder,uid-1\n{OUTSIDER_TOKEN},system:serviceaccount:ns:outsider,uid-2\n"),
    )
    .unwrap();
}
