"""A discovery-only Kubernetes API stub, so Helm's install action renders a chart with no cluster.

Helm has no offline `helm template` in its library form (helm-sdkpy); `Install.run(wait=False)` with
the in-memory release driver works once discovery answers for every kind the chart uses: the stub
serves /version, /api, /api/v1, /apis, /apis/<group>/<version>, answers 404 to the existence checks
Helm makes before creating, and echoes every create. The release's manifest is the rendered YAML.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# group/version -> [(plural, kind, namespaced)] for every kind the chart can render.
KINDS: dict[str, list[tuple[str, str, bool]]] = {
    "v1": [
        ("serviceaccounts", "ServiceAccount", True),
        ("services", "Service", True),
        ("namespaces", "Namespace", False),
    ],
    "apps/v1": [("deployments", "Deployment", True)],
    "rbac.authorization.k8s.io/v1": [
        ("clusterroles", "ClusterRole", False),
        ("clusterrolebindings", "ClusterRoleBinding", False),
        ("roles", "Role", True),
        ("rolebindings", "RoleBinding", True),
    ],
    "policy/v1": [("poddisruptionbudgets", "PodDisruptionBudget", True)],
    "monitoring.coreos.com/v1": [("servicemonitors", "ServiceMonitor", True)],
    "apiextensions.k8s.io/v1": [("customresourcedefinitions", "CustomResourceDefinition", False)],
}

KUBE_VERSION = {"major": "1", "minor": "31", "gitVersion": "v1.31.0", "platform": "linux/amd64"}

VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


def _resources(group_version: str) -> list[dict]:
    return [
        {"name": plural, "singularName": "", "namespaced": namespaced, "kind": kind, "verbs": VERBS}
        for plural, kind, namespaced in KINDS[group_version]
    ]


def _groups() -> list[tuple[str, str]]:
    return [tuple(gv.split("/", 1)) for gv in KINDS if "/" in gv]  # type: ignore[misc]


def _discovery(path: str) -> dict | None:
    """The discovery document for `path`, or None when the path is not a discovery path."""
    if path == "/version":
        return KUBE_VERSION
    if path == "/api":
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
        }
    if path == "/apis":
        groups = []
        for group, version in _groups():
            gv = {"groupVersion": f"{group}/{version}", "version": version}
            groups.append({"name": group, "versions": [gv], "preferredVersion": gv})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
    if path == "/api/v1":
        return {"kind": "APIResourceList", "groupVersion": "v1", "resources": _resources("v1")}
    for group, version in _groups():
        if path == f"/apis/{group}/{version}":
            gv = f"{group}/{version}"
            return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": _resources(gv)}
    return None


class _Handler(BaseHTTPRequestHandler):
    # Plain JSON answers: client-go asks for aggregated discovery first and falls back to these.
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - BaseHTTPRequestHandler's name
        pass

    def _send(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _not_found(self) -> None:
        self._send(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404})

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        document = _discovery(self.path.split("?", 1)[0])
        if document is None:
            self._not_found()  # "does not exist yet": Helm then creates it
        else:
            self._send(200, document)

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        try:
            self._send(201, json.loads(self.rfile.read(length) or b"{}"))
        except json.JSONDecodeError:
            self._send(400, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 400})


class StubApiServer:
    """Serves discovery on 127.0.0.1 (an ephemeral port) until closed."""

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="stub-apiserver", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def kubeconfig(self, namespace: str) -> str:
        """A kubeconfig (YAML text) pointing at the stub."""
        return (
            "apiVersion: v1\nkind: Config\n"
            f"clusters: [{{name: stub, cluster: {{server: \"{self.url}\"}}}}]\n"
            "users: [{name: stub, user: {token: offline}}]\n"
            f"contexts: [{{name: stub, context: {{cluster: stub, user: stub, namespace: {namespace}}}}}]\n"
            "current-context: stub\n"
        )

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> StubApiServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
