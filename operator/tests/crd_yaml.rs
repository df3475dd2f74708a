//! The committed chart copy of the CRDs equals what the Rust types generate (SPEC §1, §7).
//!
//! Regenerate after changing a type: `UPDATE_CRDS=1 cargo nextest run -p kea-operator --test crd_yaml`.

use std::path::PathBuf;

use kea_operator::crd::crd_yaml;

const CHART_CRDS: &str = "../charts/kea-operator/templates/crds.yaml";

/// The chart template: the generated stream, gated by `crds.install` (SPEC §7).
fn chart_template() -> String {
    format!(
        "{{{{- if .Values.crds.install }}}}\n# Generated from the Rust types by `kea-operator crd`; do not edit.\n\
         # Regenerate: UPDATE_CRDS=1 cargo nextest run -p kea-operator --test crd_yaml\n{}{{{{- end }}}}\n",
        crd_yaml()
    )
}

#[test]
fn committed_chart_crds_equal_the_generated_yaml() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(CHART_CRDS);
    let expected = chart_template();
    if std::env::var_os("UPDATE_CRDS").is_some() {
        std::fs::create_dir_all(path.parent().expect("the chart path has a parent"))
            .expect("create chart dir");
        std::fs::write(&path, &expected).expect("write the chart CRDs");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == expected,
        "{} differs from the CRDs generated from the Rust types.\nRegenerate it with:\n  \
         UPDATE_CRDS=1 cargo nextest run -p kea-operator --test crd_yaml",
        path.display()
    );
}
