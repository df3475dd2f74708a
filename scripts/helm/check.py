"""Offline checks of the kea-operator Helm chart: lint, render, validate, golden files, structure.

Run through `scripts/helm/check.sh` (`just chart`), which installs the pinned tools and sets
HELM_DRIVER=memory before Python starts (Helm reads it once, at load).

Steps, each reported with its duration; any failure makes the exit status 1:
  1. `helm lint` (Helm's library through helm-sdkpy); errors and warnings fail.
  2. Render every value set in charts/kea-operator/tests/values/ (Helm install against a
     discovery-only stub, see stub_apiserver.py) and write the manifests to the render directory.
  3. Every value set in charts/kea-operator/tests/invalid/ must be refused, with the message its
     `# expect:` line names (template `fail` or values.schema.json).
  4. Validate every rendered object with kubernetes-validate (Kubernetes 1.31.0, strict schemas),
     the CRDs included. ServiceMonitor has no bundled schema (it is a Prometheus Operator CRD): it
     is checked structurally in step 5 instead.
  5. Structural assertions (assertions.py): pod security, probes, the exact RBAC rules, the
     environment of every operator setting (against operator/src/config/args.rs), Secret mounts,
     the CRD gate, selectors.
  6. Golden files: the default render's RBAC and Deployment equal tests/golden/*.yaml.
  7. The chart README's value table equals the one generated from values.yaml's comments.

UPDATE_GOLDEN=1 rewrites the golden files and the README table instead of comparing them.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import yaml

import assertions
import values_doc
from stub_apiserver import StubApiServer

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "kea-operator"
TESTS = CHART / "tests"
GOLDEN = TESTS / "golden"
ARGS_RS = REPO / "operator" / "src" / "config" / "args.rs"
RELEASE = "kea"
NAMESPACE = "kea-system"
KUBE_VERSION = "1.31.0"
# Kinds without a schema in kubernetes-validate, checked structurally by assertions.py instead.
NO_SCHEMA_KINDS = {"ServiceMonitor"}
UPDATE_HINT = "UPDATE_GOLDEN=1 just chart"


@dataclass
class Render:
    """One rendered value set: its objects, and each object's text exactly as Helm rendered it."""

    name: str
    values: dict
    manifest: str
    objects: list[dict] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)


class Report:
    def __init__(self) -> None:
        self.failures: list[str] = []

    def fail(self, message: str) -> None:
        self.failures.append(message)
        print(f"  FAIL {message}")

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[None]:
        """Prints the step's title, then its outcome and duration."""
        start, failed_before = time.monotonic(), len(self.failures)
        print(f"==> {title}")
        yield
        status = "ok" if len(self.failures) == failed_before else "FAILED"
        print(f"    {title}: {status} ({time.monotonic() - start:.1f}s)")


def split_manifest(manifest: str) -> list[str]:
    """Helm's manifest is `---`-separated documents, each starting with `# Source: <template>`."""
    docs, current = [], []
    for line in manifest.splitlines(keepends=True):
        if line.rstrip("\n") == "---":
            if "".join(current).strip():
                docs.append("".join(current))
            current = []
        else:
            current.append(line)
    if "".join(current).strip():
        docs.append("".join(current))
    return docs


def load_value_sets(folder: Path) -> dict[str, tuple[dict, str]]:
    """name -> (values, first comment line) for every YAML file in `folder`."""
    sets = {}
    for path in sorted(folder.glob("*.yaml")):
        text = path.read_text()
        sets[path.stem] = (yaml.safe_load(text) or {}, text.splitlines()[0] if text else "")
    return sets


async def helm_install(helm, kubeconfig: str, values: dict) -> str:
    """Renders the chart with `values` through Helm's install action; returns the manifest."""
    config = helm.Configuration(namespace=NAMESPACE, kubeconfig=kubeconfig)
    release = await helm.Install(config).run(RELEASE, str(CHART), values=values, wait=False, timeout=30)
    return release["manifest"]


def lint(helm, report: Report) -> None:
    result = asyncio.run(helm.Lint(helm.Configuration()).run(str(CHART)))
    for message in result.get("Messages") or []:
        severity, path = message.get("Severity"), message.get("Path")
        # Severity: 1 info, 2 warning, 3 error. helm-sdkpy drops the message text; only the path is
        # kept, so the render step below shows the text of a template error.
        if severity == 1:
            print(f"    lint info in {path} (e.g. a recommended Chart.yaml field)")
        elif severity == 2:
            report.fail(f"helm lint: warning in {CHART.name}/{path} (text not kept by helm-sdkpy; read that file)")
        elif severity and severity >= 3:
            report.fail(f"helm lint: error in {CHART.name}/{path} (text not kept by helm-sdkpy; the render step shows template errors)")


def render_all(helm, kubeconfig: str, report: Report, out_dir: Path) -> dict[str, Render]:
    renders: dict[str, Render] = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, (values, _) in load_value_sets(TESTS / "values").items():
        try:
            manifest = asyncio.run(helm_install(helm, kubeconfig, values))
        except helm.HelmError as error:
            report.fail(f"render {name}: {error}")
            continue
        render = Render(name, values, manifest)
        # A document of comments only (e.g. the header of templates/crds.yaml) is no object.
        pairs = [(text, yaml.safe_load(text)) for text in split_manifest(manifest)]
        render.texts = [text for text, obj in pairs if obj is not None]
        render.objects = [obj for _, obj in pairs if obj is not None]
        (out_dir / f"{name}.yaml").write_text(manifest)
        kinds = sorted({o["kind"] for o in render.objects})
        print(f"    {name}: {len(render.objects)} objects ({', '.join(kinds)})")
        renders[name] = render
    print(f"    rendered manifests: {out_dir}")
    return renders


def check_invalid(helm, kubeconfig: str, report: Report) -> None:
    for name, (values, first_line) in load_value_sets(TESTS / "invalid").items():
        expected = first_line.removeprefix("# expect:").strip()
        if not first_line.startswith("# expect:") or not expected:
            report.fail(f"invalid/{name}.yaml: its first line must be `# expect: <part of the error message>`")
            continue
        try:
            asyncio.run(helm_install(helm, kubeconfig, values))
        except helm.HelmError as error:
            if expected in str(error):
                print(f"    {name}: refused as expected")
            else:
                report.fail(f"invalid/{name}: refused, but the message lacks {expected!r}: {error}")
            continue
        report.fail(f"invalid/{name}: rendered, but must be refused with {expected!r}")


def validate(renders: dict[str, Render], report: Report) -> None:
    import kubernetes_validate
    from kubernetes_validate.utils import SchemaNotFoundError, ValidationError

    checked = skipped = 0
    for render in renders.values():
        for obj in render.objects:
            what = f"{render.name}: {obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
            if obj.get("kind") in NO_SCHEMA_KINDS:
                skipped += 1
                continue
            try:
                kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
                checked += 1
            except ValidationError as error:
                path = ".".join(str(p) for p in error.path)
                report.fail(f"kubernetes-validate {what}: {path}: {error.message}")
            except SchemaNotFoundError:
                report.fail(f"kubernetes-validate {what}: no schema for this kind (add it to NO_SCHEMA_KINDS with a structural check)")
    print(f"    {checked} objects valid against Kubernetes {KUBE_VERSION} (strict); "
          f"{skipped} without a bundled schema ({', '.join(sorted(NO_SCHEMA_KINDS))}) checked structurally")


def golden(renders: dict[str, Render], report: Report, update: bool) -> None:
    render = renders.get("default")
    if render is None:
        report.fail("golden: the default value set did not render")
        return
    selections = {
        "rbac.yaml": {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"},
        "deployment.yaml": {"Deployment"},
    }
    for file_name, kinds in selections.items():
        body = "".join(
            "---\n" + text for obj, text in zip(render.objects, render.texts) if obj["kind"] in kinds
        )
        expected = (
            f"# Golden file: the chart's {', '.join(sorted(kinds))} with default values, as Helm renders them.\n"
            f"# Checked by `just chart`; regenerate after an intended change: {UPDATE_HINT}\n" + body
        )
        compare_or_update(GOLDEN / file_name, expected, report, update)


def compare_or_update(path: Path, expected: str, report: Report, update: bool) -> None:
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(expected)
        print(f"    updated {path.relative_to(REPO)}")
        return
    if not path.exists():
        report.fail(f"{path.relative_to(REPO)} is missing; create it with {UPDATE_HINT}")
        return
    current = path.read_text()
    if current == expected:
        print(f"    {path.relative_to(REPO)} unchanged")
        return
    diff = "".join(
        difflib.unified_diff(
            current.splitlines(keepends=True),
            expected.splitlines(keepends=True),
            fromfile=f"{path.relative_to(REPO)} (committed)",
            tofile="rendered now",
        )
    )
    print(diff)
    report.fail(f"{path.relative_to(REPO)} differs from the render (diff above); if intended: {UPDATE_HINT}")


def readme_table(report: Report, update: bool) -> None:
    readme = CHART / "README.md"
    try:
        table = values_doc.table(CHART / "values.yaml")
    except values_doc.UndocumentedValue as error:
        report.fail(str(error))
        return
    text = readme.read_text() if readme.exists() else ""
    try:
        new_text = values_doc.replace_table(text, table)
    except ValueError as error:
        report.fail(f"{readme.relative_to(REPO)}: {error}")
        return
    if update:
        readme.write_text(new_text)
        print(f"    updated the value table of {readme.relative_to(REPO)}")
    elif new_text != text:
        report.fail(f"{readme.relative_to(REPO)}: the value table differs from values.yaml's comments; {UPDATE_HINT}")
    else:
        print(f"    {readme.relative_to(REPO)} lists every value")


def main() -> int:
    if os.environ.get("HELM_DRIVER") != "memory":
        print("HELM_DRIVER=memory must be set before Python starts; run scripts/helm/check.sh", file=sys.stderr)
        return 2
    import helm_sdkpy as helm

    update = os.environ.get("UPDATE_GOLDEN") == "1"
    out_dir = Path(os.environ.get("CHART_RENDER_DIR", "/var/cache/kea-operator/chart-render"))
    report = Report()
    started = time.monotonic()

    with report.step("helm lint"):
        lint(helm, report)
    with StubApiServer() as stub:
        kubeconfig = stub.kubeconfig(NAMESPACE)
        with report.step("render value sets (tests/values/)"):
            renders = render_all(helm, kubeconfig, report, out_dir)
        with report.step("value sets that must be refused (tests/invalid/)"):
            check_invalid(helm, kubeconfig, report)
    with report.step(f"kubernetes-validate (Kubernetes {KUBE_VERSION}, strict)"):
        validate(renders, report)
    with report.step("structural assertions"):
        for message in assertions.check_all(renders, ARGS_RS, RELEASE, NAMESPACE):
            report.fail(message)
    with report.step("golden files"):
        golden(renders, report, update)
    with report.step("chart README value table"):
        readme_table(report, update)

    elapsed = time.monotonic() - started
    if report.failures:
        print(f"chart checks FAILED ({len(report.failures)} failures, {elapsed:.1f}s):")
        for failure in report.failures:
            print(f"  - {failure}")
        return 1
    print(f"chart checks passed ({elapsed:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
