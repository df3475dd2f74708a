//! The README stays true to the code: its configuration table lists every setting of
//! `operator/src/config/args.rs`, its metrics table every metric `operator/src/metrics.rs` registers
//! (counters with the `_total` the encoder appends), every `just`/`./dev` recipe it or the user docs
//! name exists in the justfile, every relative link resolves, and the test command CI reads is
//! `./dev ci`.

use std::collections::BTreeSet;
use std::path::Path;

fn read(path: &str) -> String {
    let full = e2e::artifacts::repo_root().join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// The names inside backticks at the start of a Markdown table row: "| `NAME` | ...".
fn table_names(markdown: &str) -> BTreeSet<String> {
    markdown
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect()
}

/// `env = "NAME"` of every argument.
fn settings(args_rs: &str) -> BTreeSet<String> {
    args_rs
        .split("env = \"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect()
}

/// Every registered metric name as exposed: `registry.register("name", "help", m.field.clone())`,
/// `_total` appended when the field is a counter family.
fn metrics(metrics_rs: &str) -> BTreeSet<String> {
    let fields = metrics_rs
        .split("pub struct Metrics {")
        .nth(1)
        .and_then(|rest| rest.split('}').next())
        .expect("the Metrics struct");
    let is_counter = |field: &str| {
        fields
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with(&format!("{field}:")))
            .is_some_and(|l| l.contains("Counter>") || l.ends_with("Counter,"))
    };
    metrics_rs
        .split("registry.register(")
        .skip(1)
        .map(|call| {
            let name = call.split('"').nth(1).expect("a metric name");
            let field = call
                .split("m.")
                .nth(1)
                .and_then(|f| f.split('.').next())
                .expect("the registered field");
            if is_counter(field) {
                format!("{name}_total")
            } else {
                name.to_string()
            }
        })
        .collect()
}

/// Recipe names of the justfile (private `_` recipes included).
fn recipes(justfile: &str) -> BTreeSet<String> {
    justfile
        .lines()
        .filter(|l| !l.starts_with([' ', '\t', '#']) && !l.contains(":=") && !l.starts_with("export"))
        .filter_map(|l| l.split(':').next())
        .filter_map(|head| head.split_whitespace().next())
        .filter(|name| {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .map(str::to_string)
        .collect()
}

/// The recipe of every command line or inline code span that runs `just X` or `./dev X` (flags
/// like `--list` skipped; prose such as "just the hosts" is not a command).
fn recipes_named(text: &str) -> BTreeSet<String> {
    let word = |rest: &str| -> Option<String> {
        let w: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        (!w.is_empty() && !w.starts_with('-')).then_some(w)
    };
    let mut out = BTreeSet::new();
    for line in text.lines() {
        for marker in ["just ", "./dev "] {
            if let Some(rest) = line.trim_start().strip_prefix(marker) {
                out.extend(word(rest));
            }
            for rest in line.split(&format!("`{marker}")).skip(1) {
                out.extend(word(rest));
            }
        }
    }
    out
}

#[test]
fn the_configuration_table_lists_every_setting() {
    let readme = table_names(&read("README.md"));
    let missing: Vec<String> = settings(&read("operator/src/config/args.rs"))
        .into_iter()
        .filter(|s| !readme.contains(s))
        .collect();
    assert!(
        missing.is_empty(),
        "README.md's configuration table lacks {missing:?}"
    );
}

#[test]
fn the_metrics_table_lists_every_metric() {
    let names = metrics(&read("operator/src/metrics.rs"));
    assert!(names.len() >= 17, "{names:?}");
    assert!(names.contains("kea_operator_dhcp_reservations_total"));
    assert!(names.contains("kea_operator_dhcp_operation_duration_seconds"));
    let readme = table_names(&read("README.md"));
    let missing: Vec<&String> = names.iter().filter(|n| !readme.contains(*n)).collect();
    assert!(missing.is_empty(), "README.md's metrics table lacks {missing:?}");
    let stale: Vec<&String> = readme
        .iter()
        .filter(|n| n.starts_with("kea_operator_") && !names.contains(*n))
        .collect();
    assert!(
        stale.is_empty(),
        "README.md lists metrics the operator does not register: {stale:?}"
    );
}

#[test]
fn every_recipe_the_docs_name_exists() {
    let known = recipes(&read("justfile"));
    for must in [
        "demo",
        "demo-check",
        "test",
        "ci",
        "lint",
        "conformance",
        "e2e-local",
        "images",
    ] {
        assert!(known.contains(must), "justfile lacks {must}: {known:?}");
    }
    for doc in [
        "README.md",
        "docs/kea-sim.md",
        "docs/troubleshooting.md",
        "docs/testing.md",
    ] {
        let unknown: Vec<String> = recipes_named(&read(doc))
            .into_iter()
            .filter(|r| !known.contains(r))
            .collect();
        assert!(
            unknown.is_empty(),
            "{doc} names recipes the justfile lacks: {unknown:?}"
        );
    }
}

#[test]
fn relative_links_resolve() {
    let root = e2e::artifacts::repo_root();
    for doc in ["README.md", "docs/kea-sim.md", "docs/troubleshooting.md"] {
        let text = read(doc);
        let base = root.join(doc);
        let dir = base.parent().unwrap_or(Path::new("."));
        for target in text.split("](").skip(1).filter_map(|r| r.split(')').next()) {
            if target.starts_with("http") || target.starts_with('#') {
                continue;
            }
            let file = target.split('#').next().unwrap_or(target);
            assert!(dir.join(file).exists(), "{doc}: link {target} does not resolve");
        }
    }
}

#[test]
fn ci_reads_dev_ci_from_the_readme() {
    let readme = read("README.md");
    assert!(
        readme.contains("<!-- test-command -->\n    ./dev ci\n<!-- /test-command -->"),
        "the test-command block must stay exactly `./dev ci` (.ci/run reads it)"
    );
}

#[test]
fn the_parsers_find_what_they_are_given() {
    let rs = "pub struct Metrics {\n    a: Family<L, Counter>,\n    b: Gauge,\n}\nregistry.register(\n \"x_a\", \"h\", m.a.clone());\nregistry.register(\"x_b\", \"h\", m.b.clone());";
    assert_eq!(
        metrics(rs),
        BTreeSet::from(["x_a_total".to_string(), "x_b".to_string()])
    );
    let just = "export X := \"1\"\nv := X / \"y\"\n# c\ndemo *ARGS: _b\n    run\n_b:\n    x\nfuzz SECONDS=\"60\" *T:\n";
    assert_eq!(
        recipes(just),
        BTreeSet::from(["demo".to_string(), "_b".to_string(), "fuzz".to_string()])
    );
    assert_eq!(
        recipes_named("run `just demo --free-ports`, `./dev --list` or just the hosts\n    ./dev ci\n"),
        BTreeSet::from(["demo".to_string(), "ci".to_string()])
    );
    assert_eq!(
        settings("#[arg(long, env = \"A_B\", x)]"),
        BTreeSet::from(["A_B".to_string()])
    );
}
