//! The committed CRDs are the ones the Rust types generate.

use std::process::Command;

#[test]
fn committed_crds_match_the_generated_ones() {
    let output = Command::new(env!("CARGO_BIN_EXE_connectors-proxy"))
        .arg("--print-crds")
        .output()
        .expect("run connectors-proxy --print-crds");
    assert!(output.status.success(), "{output:?}");
    let generated = String::from_utf8(output.stdout).expect("UTF-8 YAML");
    assert!(generated.contains("kind: CustomResourceDefinition"));
    assert!(generated.contains("name: connectors.connectors.alauda.io"));
    assert!(generated.contains("name: connectorclasses.connectors.alauda.io"));
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/crds.yaml");
    let committed = std::fs::read_to_string(path).expect("read deploy/crds.yaml");
    assert!(
        committed == generated,
        "deploy/crds.yaml is out of date: run `connectors-proxy --print-crds > deploy/crds.yaml`"
    );
}
