//! The files of `examples/oci` that its README runs: the image script and the manifests.

mod support;

use std::process::Command;

use support::{ok, skopeo};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/oci");

#[test]
fn make_image_writes_a_layout_skopeo_reads() {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("image");
    let printed = ok(&Command::new(format!("{EXAMPLE}/make-image"))
        .arg(&layout)
        .output()
        .unwrap());
    let reference = format!("oci:{}:v1", layout.display());
    let inspected: serde_json::Value =
        serde_json::from_str(&ok(&skopeo(&["inspect", &reference]))).unwrap();
    assert_eq!(inspected["Digest"], printed.trim());
    assert_eq!(inspected["Layers"].as_array().map(Vec::len), Some(1));
}

#[test]
fn the_registry_config_matches_the_connector_secret() {
    let htpasswd = std::fs::read_to_string(format!("{EXAMPLE}/registry/htpasswd")).unwrap();
    let (user, hash) = htpasswd.trim().split_once(':').unwrap();
    let connector = std::fs::read_to_string(format!("{EXAMPLE}/connector.yaml")).unwrap();
    assert!(connector.contains(&format!("username: {user}")));
    let password = connector
        .lines()
        .find_map(|line| line.trim().strip_prefix("password: "))
        .unwrap();
    assert!(bcrypt::verify(password, hash).unwrap());
    let config = std::fs::read_to_string(format!("{EXAMPLE}/registry/config.yml")).unwrap();
    assert!(config.contains("path: examples/oci/registry/htpasswd"));
    assert!(
        connector.contains("address: http://127.0.0.1:5000")
            && config.contains("addr: 127.0.0.1:5000")
    );
}
