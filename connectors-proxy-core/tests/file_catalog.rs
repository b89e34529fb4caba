//! The manifest-folder catalog: parsing, last-good reloads and the folder watcher.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use connectors_proxy_core::catalog::{Catalog, CatalogError, Credentials, FileCatalog};

const CLASS: &str = "\
apiVersion: connectors.alauda.io/v1alpha1
kind: ConnectorClass
metadata: {name: http}
spec:
  auth:
    types:
      - {name: basicAuth, secretType: kubernetes.io/basic-auth}
  proxy: {ref: {kind: Service, name: p, namespace: s}}
";

fn connector(name: &str, address: &str) -> String {
    format!(
        "apiVersion: connectors.alauda.io/v1alpha1
kind: Connector
metadata: {{name: {name}, namespace: demo}}
spec:
  connectorClassName: http
  address: {address}
  auth: {{name: basicAuth, secretRef: {{name: {name}-secret}}}}
---
apiVersion: v1
kind: Secret
metadata: {{name: {name}-secret, namespace: demo}}
type: kubernetes.io/basic-auth
stringData: {{username: u, password: pw-{name}}}
"
    )
}

fn write(dir: &Path, file: &str, text: &str) {
    std::fs::write(dir.join(file), text).unwrap();
}

/// The password injected for `demo/<name>`, or `None` when the connector is absent or broken.
async fn password(catalog: &FileCatalog, name: &str) -> Option<String> {
    let entry = catalog.connector("demo", name).await.ok()??;
    match &entry.credentials {
        Credentials::Secret { secret, .. } => Some(secret.get("password")?.expose().to_owned()),
        _ => None,
    }
}

/// Polls until `password(name)` equals `want`, for at most five seconds.
async fn wait_for(catalog: &FileCatalog, name: &str, want: Option<&str>) {
    for _ in 0..100 {
        if password(catalog, name).await.as_deref() == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{name}: expected {want:?}, still {:?}",
        password(catalog, name).await
    );
}

#[tokio::test]
async fn reads_multi_document_yaml_lists_and_json() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "class.yml", CLASS);
    write(
        dir.path(),
        "a.yaml",
        &format!(
            "---\n{}---\n# only a comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: x}}\n",
            connector("one", "https://one.example")
        ),
    );
    let two: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(&connector("two", "https://two.example")).unwrap();
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": two});
    write(dir.path(), "b.json", &list.to_string());
    write(
        dir.path(),
        "rbac.yaml",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r}\nrules: []\n",
    );
    write(dir.path(), "notes.txt", "not a manifest");
    write(dir.path(), ".hidden.yaml", ": not yaml [");

    let catalog = FileCatalog::load(dir.path()).unwrap();
    assert!(catalog.is_ready());
    assert_eq!(password(&catalog, "one").await.as_deref(), Some("pw-one"));
    assert_eq!(password(&catalog, "two").await.as_deref(), Some("pw-two"));
    let mut keys: Vec<_> = catalog.connectors().iter().map(|e| e.key()).collect();
    keys.sort();
    assert_eq!(keys, ["demo/one", "demo/two"]);
    assert!(
        catalog
            .connector("demo", "one")
            .await
            .unwrap()
            .unwrap()
            .class
            .proxied
    );
    assert_eq!(catalog.rbac().cluster_roles.len(), 1);
}

#[tokio::test]
async fn a_missing_folder_fails_to_load() {
    let dir = tempfile::tempdir().unwrap();
    assert!(FileCatalog::load(dir.path().join("nope")).is_err());
}

#[tokio::test]
async fn invalid_addresses_are_unusable() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "class.yaml", CLASS);
    write(dir.path(), "c.yaml", &connector("bad", "ftp://h"));
    let catalog = FileCatalog::load(dir.path()).unwrap();
    let error = catalog.connector("demo", "bad").await.unwrap_err();
    assert!(matches!(error, CatalogError::Unusable { .. }), "{error}");
    assert!(catalog.connectors().is_empty());
}

#[tokio::test]
async fn a_broken_file_keeps_its_last_good_objects() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "class.yaml", CLASS);
    write(dir.path(), "c.yaml", &connector("c", "https://h"));
    let catalog = Arc::new(FileCatalog::load(dir.path()).unwrap());
    let mut generation = catalog.subscribe();
    let watcher = catalog.spawn_watcher().unwrap();

    let broken = connector("c", "https://h").replace("pw-c", "changed") + "  : [unclosed\n";
    write(dir.path(), "c.yaml", &broken);
    tokio::time::timeout(Duration::from_secs(5), generation.changed())
        .await
        .expect("the broken file was not noticed")
        .unwrap();
    assert_eq!(password(&catalog, "c").await.as_deref(), Some("pw-c"));

    write(
        dir.path(),
        "c.yaml",
        &connector("c", "https://h").replace("pw-c", "fixed"),
    );
    wait_for(&catalog, "c", Some("fixed")).await;
    watcher.abort();
}

#[tokio::test]
async fn the_watcher_picks_up_rotation_and_deletion() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "class.yaml", CLASS);
    write(dir.path(), "c.yaml", &connector("c", "https://h"));
    let catalog = Arc::new(FileCatalog::load(dir.path()).unwrap());
    let watcher = catalog.spawn_watcher().unwrap();

    // A new file, then a rotation written the way editors save: a temporary file renamed over.
    write(dir.path(), "d.yaml", &connector("d", "https://d"));
    wait_for(&catalog, "d", Some("pw-d")).await;
    write(
        dir.path(),
        ".c.yaml.tmp",
        &connector("c", "https://h").replace("pw-c", "rotated"),
    );
    std::fs::rename(dir.path().join(".c.yaml.tmp"), dir.path().join("c.yaml")).unwrap();
    wait_for(&catalog, "c", Some("rotated")).await;

    std::fs::remove_file(dir.path().join("d.yaml")).unwrap();
    wait_for(&catalog, "d", None).await;
    assert!(catalog.connector("demo", "d").await.unwrap().is_none());
    assert_eq!(password(&catalog, "c").await.as_deref(), Some("rotated"));
    watcher.abort();
}

#[tokio::test]
async fn the_standalone_example_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/standalone");
    let catalog = FileCatalog::load(dir).unwrap();
    for (name, key, value) in [
        ("echo-basic", "password", "demo-password"),
        ("echo-bearer", "token", "demo-tool-token"),
    ] {
        let entry = catalog.connector("demo", name).await.unwrap().unwrap();
        assert!(entry.class.proxied, "{name}");
        let Credentials::Secret { secret, .. } = &entry.credentials else {
            panic!("{name}: {:?}", entry.credentials);
        };
        assert_eq!(secret.get(key).unwrap().expose(), value);
    }
    assert_eq!(catalog.connectors().len(), 2);
    let rbac = catalog.rbac();
    assert_eq!((rbac.roles.len(), rbac.role_bindings.len()), (1, 1));
}

#[cfg(unix)]
#[tokio::test]
async fn the_watcher_follows_configmap_volume_swaps() {
    use std::os::unix::fs::symlink;
    // The layout kubelet gives a mounted ConfigMap: visible names link through `..data`,
    // which is swapped atomically to a new timestamped folder on each update.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir(root.join("..v1")).unwrap();
    write(&root.join("..v1"), "class.yaml", CLASS);
    write(&root.join("..v1"), "c.yaml", &connector("c", "https://h"));
    symlink("..v1", root.join("..data")).unwrap();
    symlink("..data/class.yaml", root.join("class.yaml")).unwrap();
    symlink("..data/c.yaml", root.join("c.yaml")).unwrap();
    let catalog = Arc::new(FileCatalog::load(root).unwrap());
    assert_eq!(password(&catalog, "c").await.as_deref(), Some("pw-c"));
    let watcher = catalog.spawn_watcher().unwrap();

    std::fs::create_dir(root.join("..v2")).unwrap();
    write(&root.join("..v2"), "class.yaml", CLASS);
    let rotated = connector("c", "https://h").replace("pw-c", "swapped");
    write(&root.join("..v2"), "c.yaml", &rotated);
    symlink("..v2", root.join("..data_tmp")).unwrap();
    std::fs::rename(root.join("..data_tmp"), root.join("..data")).unwrap();
    wait_for(&catalog, "c", Some("swapped")).await;
    watcher.abort();
}
