"""Structural assertions over the rendered value sets (step 5 of check.py).

Each function returns failure messages; none means the property holds. The properties are those
SPEC §5 and §7 and the chart's README promise: pod security, probes, the exact RBAC rules, the
environment of every operator setting, read-only Secret mounts, the CRD gate, selectors.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable

OPERATOR_UID = 65532
TLS_MOUNT = "/etc/kea-operator/tls"
BASIC_AUTH_MOUNT = "/etc/kea-operator/basic-auth"
CRD_NAMES = {"networkconfigurations.vitistack.io", "networknamespaces.vitistack.io"}
# Kinds the chart may render; a Secret or ConfigMap would mean credentials or config in the chart.
ALLOWED_KINDS = {
    "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Service",
    "Deployment", "ServiceMonitor", "PodDisruptionBudget", "CustomResourceDefinition",
}

# SPEC §7, rule for rule: (apiGroup, resource, verb).
CLUSTER_RULES = {
    *(("vitistack.io", "networkconfigurations", v) for v in ("get", "list", "watch", "patch")),
    *(("vitistack.io", "networkconfigurations/status", v) for v in ("get", "update")),
    ("vitistack.io", "networkconfigurations/finalizers", "update"),
    *(("vitistack.io", "networknamespaces", v) for v in ("list", "watch")),
    ("events.k8s.io", "events", "create"),
    ("events.k8s.io", "events", "patch"),
}
LEASE_RULES = {("coordination.k8s.io", "leases", v) for v in ("get", "create", "update")}

# Operator variables the chart deliberately never sets, and why.
NOT_SET_BY_CHART = {
    "KEA_BASIC_AUTH_PASSWORD": "the chart mounts the password as a file (KEA_BASIC_AUTH_PASSWORD_FILE), "
    "so it is neither in the pod spec nor needs a restart to rotate",
}
# Chart defaults that differ from the operator's on purpose.
CHART_OWN_DEFAULTS = {"KEA_OPERATOR_INSTANCE": "the chart uses the release name"}

# tests/values/all-settings.yaml, variable by variable.
ALL_SETTINGS_ENV = {
    "KEA_BASE_URL": "https://kea.example.internal",
    "KEA_HOST": "ignored-by-the-operator-when-base-url-is-set",
    "KEA_PORT": "8443",
    "KEA_SECONDARY_URL": "https://kea-b.example.internal:8443",
    "KEA_TIMEOUT_SECONDS": "2.5",
    "KEA_DISABLE_KEEPALIVES": "true",
    "KEA_HA_WRITE_MODE": "active-server",
    "KEA_OPERATION_TARGET": "database",
    "KEA_CONFIG_WRITE": "true",
    "KEA_CONFIG_WRITE_DEBOUNCE_MS": "1000000",
    "KEA_HEALTH_INTERVAL_SECONDS": "7",
    "KEA_HEALTH_FAILURE_THRESHOLD": "3",
    "KEA_MAX_IN_FLIGHT": "3",
    "KEA_RETRY_INITIAL_MS": "50",
    "KEA_RETRY_FACTOR": "1.5",
    "KEA_RETRY_MAX_SECONDS": "4",
    "KEA_RETRY_ATTEMPTS": "9",
    "KEA_BREAKER_FAILURES": "2",
    "KEA_BREAKER_RESET_SECONDS": "11",
    "KEA_BREAKER_HALF_OPEN_REQUESTS": "1",
    "KEA_TLS_ENABLED": "true",
    "KEA_TLS_INSECURE": "true",
    "KEA_TLS_SERVER_NAME": "kea.example.internal",
    "KEA_TLS_CA_FILE": f"{TLS_MOUNT}/ca.crt",
    "KEA_BASIC_AUTH_USERNAME": "admin",
    "KEA_BASIC_AUTH_PASSWORD_FILE": f"{BASIC_AUTH_MOUNT}/password",
    "KEA_OPERATOR_INSTANCE": "cluster-a",
    "DRY_RUN": "true",
    "RESYNC_INTERVAL_SECONDS": "31536000",
    "KEA_CLEANUP_TIMEOUT_SECONDS": "120",
    "MAX_CONCURRENT_RECONCILES": "4",
    "HEALTH_STALL_SECONDS": "90",
    "REQUEUE_NETWORK_SECONDS": "3",
    "REQUEUE_AUTH_SECONDS": "4",
    "REQUEUE_PERMISSION_SECONDS": "5",
    "REQUEUE_RESOURCE_SECONDS": "6",
    "LEADER_ELECT": "true",
    "LEASE_DURATION_SECONDS": "20",
    "LEASE_RENEW_SECONDS": "0.5",
    "POD_NAMESPACE": "<fieldRef metadata.namespace>",
    "HTTP_ADDR": "[::]:9090",
    "LOG_FORMAT": "text",
    "RUST_LOG": "kea_operator=debug,info",
    "EXTRA_SETTING": "1",
}
EXTRA_ENV = {"EXTRA_SETTING"}


def objects(render, kind: str) -> list[dict]:
    return [o for o in render.objects if o.get("kind") == kind]


def dig(obj: Any, *path: str, default: Any = None) -> Any:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return default
        obj = obj[key]
    return obj


def env_map(container: dict) -> dict[str, str]:
    out = {}
    for var in container.get("env") or []:
        if "value" in var:
            out[var["name"]] = var["value"]
        elif dig(var, "valueFrom", "fieldRef", "fieldPath"):
            out[var["name"]] = f"<fieldRef {var['valueFrom']['fieldRef']['fieldPath']}>"
        else:
            out[var["name"]] = "<valueFrom>"
    return out


def rules(role: dict) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in role.get("rules") or []
        for group in rule.get("apiGroups") or []
        for resource in rule.get("resources") or []
        for verb in rule.get("verbs") or []
    }


def subset(small: dict, big: dict) -> bool:
    return bool(small) and all(big.get(k) == v for k, v in small.items())


# ---------------------------------------------------------------------------------------------------
# Properties of every render


def check_kinds(render) -> Iterable[str]:
    for obj in render.objects:
        if obj.get("kind") not in ALLOWED_KINDS:
            yield f"{render.name}: renders a {obj.get('kind')}, which the chart must not (credentials and config come from existing Secrets and values)"


def operator_container(render) -> tuple[dict | None, list[str]]:
    deployments = objects(render, "Deployment")
    if len(deployments) != 1:
        return None, [f"{render.name}: expected one Deployment, found {len(deployments)}"]
    containers = dig(deployments[0], "spec", "template", "spec", "containers", default=[])
    named = [c for c in containers if c.get("name") == "operator"]
    if len(named) != 1:
        return None, [f"{render.name}: expected one container named operator"]
    return named[0], []


def check_pod_security(render) -> Iterable[str]:
    deployment = objects(render, "Deployment")[0]
    pod = dig(deployment, "spec", "template", "spec")
    container = next(c for c in pod["containers"] if c["name"] == "operator")
    psc, csc = pod.get("securityContext") or {}, container.get("securityContext") or {}
    expectations = [
        ("pod securityContext.runAsNonRoot", psc.get("runAsNonRoot"), True),
        ("pod securityContext.runAsUser", psc.get("runAsUser"), OPERATOR_UID),
        ("pod securityContext.fsGroup", psc.get("fsGroup"), OPERATOR_UID),
        ("pod securityContext.seccompProfile.type", dig(psc, "seccompProfile", "type"), "RuntimeDefault"),
        ("container securityContext.runAsNonRoot", csc.get("runAsNonRoot"), True),
        ("container securityContext.readOnlyRootFilesystem", csc.get("readOnlyRootFilesystem"), True),
        ("container securityContext.allowPrivilegeEscalation", csc.get("allowPrivilegeEscalation"), False),
        ("container securityContext.capabilities.drop", dig(csc, "capabilities", "drop"), ["ALL"]),
        ("container securityContext.capabilities.add", dig(csc, "capabilities", "add"), None),
        ("container securityContext.privileged", csc.get("privileged"), None),
        ("container securityContext.seccompProfile.type", dig(csc, "seccompProfile", "type"), "RuntimeDefault"),
    ]
    for what, actual, expected in expectations:
        if actual != expected:
            yield f"{render.name}: {what} is {actual!r}, expected {expected!r}"
    if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
        yield f"{render.name}: the pod uses a host namespace"


def check_probes_and_ports(render, container: dict) -> Iterable[str]:
    ports = {p.get("name"): p for p in container.get("ports") or []}
    env = env_map(container)
    if "http" not in ports:
        yield f"{render.name}: the container has no port named http"
    elif not env.get("HTTP_ADDR", "").endswith(f":{ports['http']['containerPort']}"):
        yield f"{render.name}: HTTP_ADDR {env.get('HTTP_ADDR')!r} does not listen on container port http ({ports['http']['containerPort']})"
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = dig(container, probe, "httpGet") or {}
        if get.get("path") != path or get.get("port") != "http":
            yield f"{render.name}: {probe} is {get!r}, expected GET {path} on port http"


def check_env(render, container: dict, release: str) -> Iterable[str]:
    names = [v["name"] for v in container.get("env") or []]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        yield f"{render.name}: environment variables set twice: {duplicates}"
    env = env_map(container)
    if env.get("POD_NAMESPACE") != "<fieldRef metadata.namespace>":
        yield f"{render.name}: POD_NAMESPACE must come from the downward API (metadata.namespace)"
    instance = dig(render.values, "operator", "instance") or release
    if env.get("KEA_OPERATOR_INSTANCE") != instance:
        yield f"{render.name}: KEA_OPERATOR_INSTANCE is {env.get('KEA_OPERATOR_INSTANCE')!r}, expected {instance!r}"
    leader = dig(render.values, "leaderElection", "enabled", default=True)
    if env.get("LEADER_ELECT") != str(leader).lower():
        yield f"{render.name}: LEADER_ELECT is {env.get('LEADER_ELECT')!r}, expected {str(leader).lower()!r}"
    for name, value in env.items():
        if re.fullmatch(r"-?[0-9.]+e[+-]?[0-9]+", value):
            yield f"{render.name}: {name}={value} is in exponent form, which the operator refuses"


def check_secret_mounts(render, container: dict) -> Iterable[str]:
    pod = dig(objects(render, "Deployment")[0], "spec", "template", "spec")
    secret_volumes = {v["name"]: v["secret"] for v in pod.get("volumes") or [] if "secret" in v}
    mounts = {m["name"]: m for m in container.get("volumeMounts") or []}
    for name, secret in secret_volumes.items():
        mount = mounts.get(name)
        if mount is None:
            yield f"{render.name}: Secret volume {name} is not mounted"
            continue
        if mount.get("readOnly") is not True:
            yield f"{render.name}: Secret volume {name} is mounted writable"
        if mount.get("subPath"):
            yield f"{render.name}: Secret volume {name} uses subPath, which the kubelet never updates (rotation needs a restart)"
        if secret.get("defaultMode") not in (0o400, 0o440):
            yield f"{render.name}: Secret volume {name} has defaultMode {secret.get('defaultMode')!r}, expected 0400 or 0440"
    # Every *_FILE variable names a file that one read-only Secret volume provides.
    provided = {
        f"{mounts[name]['mountPath']}/{item['path']}"
        for name, secret in secret_volumes.items()
        if name in mounts
        for item in secret.get("items") or []
    }
    for var, path in env_map(container).items():
        if var.endswith("_FILE") and path not in provided:
            yield f"{render.name}: {var}={path} is not a file of a mounted Secret ({sorted(provided)})"


def check_rbac(render, namespace: str) -> Iterable[str]:
    if not dig(render.values, "rbac", "create", default=True):
        for kind in ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"):
            if objects(render, kind):
                yield f"{render.name}: rbac.create=false but a {kind} is rendered"
        return
    leader = dig(render.values, "leaderElection", "enabled", default=True)
    cluster_roles, roles = objects(render, "ClusterRole"), objects(render, "Role")
    if len(cluster_roles) != 1:
        yield f"{render.name}: expected one ClusterRole, found {len(cluster_roles)}"
    elif rules(cluster_roles[0]) != CLUSTER_RULES:
        extra, missing = rules(cluster_roles[0]) - CLUSTER_RULES, CLUSTER_RULES - rules(cluster_roles[0])
        yield f"{render.name}: ClusterRole rules differ from SPEC §7: extra {sorted(extra)}, missing {sorted(missing)}"
    expected_roles = 1 if leader else 0
    if len(roles) != expected_roles:
        yield f"{render.name}: expected {expected_roles} Role (leader Lease), found {len(roles)}"
    for role in roles:
        if rules(role) != LEASE_RULES:
            yield f"{render.name}: Role rules are {sorted(rules(role))}, expected {sorted(LEASE_RULES)}"
        if dig(role, "metadata", "namespace") != namespace:
            yield f"{render.name}: the Lease Role is not in the release namespace"
    account = dig(objects(render, "Deployment")[0], "spec", "template", "spec", "serviceAccountName")
    for kind, role_kind, role_list in (("ClusterRoleBinding", "ClusterRole", cluster_roles), ("RoleBinding", "Role", roles)):
        bindings = objects(render, kind)
        if len(bindings) != len(role_list):
            yield f"{render.name}: {len(bindings)} {kind}s for {len(role_list)} {role_kind}s"
        for binding in bindings:
            ref = binding.get("roleRef") or {}
            if ref.get("kind") != role_kind or ref.get("name") not in {dig(r, "metadata", "name") for r in role_list}:
                yield f"{render.name}: {kind} {dig(binding, 'metadata', 'name')} refers to {ref}"
            if binding.get("subjects") != [{"kind": "ServiceAccount", "name": account, "namespace": namespace}]:
                yield f"{render.name}: {kind} subjects {binding.get('subjects')} are not the operator's ServiceAccount {namespace}/{account}"


def check_crds(render) -> Iterable[str]:
    crds = objects(render, "CustomResourceDefinition")
    if not dig(render.values, "crds", "install", default=True):
        if crds:
            yield f"{render.name}: crds.install=false still renders {[dig(c, 'metadata', 'name') for c in crds]}"
        return
    names = {dig(c, "metadata", "name") for c in crds}
    if names != CRD_NAMES or len(crds) != len(CRD_NAMES):
        yield f"{render.name}: CRDs rendered {sorted(n for n in names if n)}, expected {sorted(CRD_NAMES)} (templates/crds.yaml)"
    for crd in crds:
        if dig(crd, "metadata", "annotations", "helm.sh/resource-policy") != "keep":
            yield f"{render.name}: CRD {dig(crd, 'metadata', 'name')} lacks helm.sh/resource-policy: keep (an uninstall would delete every NC)"


def check_services(render, container: dict) -> Iterable[str]:
    deployment = objects(render, "Deployment")[0]
    pod_labels = dig(deployment, "spec", "template", "metadata", "labels", default={})
    if not subset(dig(deployment, "spec", "selector", "matchLabels", default={}), pod_labels):
        yield f"{render.name}: the Deployment's selector does not match its pod labels"
    services = objects(render, "Service")
    enabled = dig(render.values, "metrics", "service", "enabled", default=True)
    if len(services) != (1 if enabled else 0):
        yield f"{render.name}: expected {1 if enabled else 0} metrics Service, found {len(services)}"
    for service in services:
        if not subset(dig(service, "spec", "selector", default={}), pod_labels):
            yield f"{render.name}: the metrics Service selects no operator pod"
        if [p.get("targetPort") for p in dig(service, "spec", "ports", default=[])] != ["http"]:
            yield f"{render.name}: the metrics Service must target container port http"
    monitors = objects(render, "ServiceMonitor")
    wanted = dig(render.values, "metrics", "serviceMonitor", "enabled", default=False)
    if len(monitors) != (1 if wanted else 0):
        yield f"{render.name}: expected {1 if wanted else 0} ServiceMonitor, found {len(monitors)}"
    for monitor in monitors:
        # No bundled schema for this Prometheus Operator kind: its shape is checked here instead.
        if dig(monitor, "apiVersion") != "monitoring.coreos.com/v1":
            yield f"{render.name}: ServiceMonitor apiVersion is {monitor.get('apiVersion')}"
        if not services or not subset(dig(monitor, "spec", "selector", "matchLabels", default={}),
                                      dig(services[0], "metadata", "labels", default={})):
            yield f"{render.name}: the ServiceMonitor selects no metrics Service"
        endpoints = dig(monitor, "spec", "endpoints", default=[])
        service_ports = {p.get("name") for s in services for p in dig(s, "spec", "ports", default=[])}
        if not endpoints or any(e.get("port") not in service_ports or e.get("path") != "/metrics" for e in endpoints):
            yield f"{render.name}: ServiceMonitor endpoints {endpoints} must scrape /metrics on a port of the Service"
        if dig(monitor, "spec", "namespaceSelector", "matchNames") != [dig(monitor, "metadata", "namespace")]:
            yield f"{render.name}: the ServiceMonitor must look in its own namespace"
    budgets = objects(render, "PodDisruptionBudget")
    wanted = dig(render.values, "podDisruptionBudget", "enabled", default=False)
    if len(budgets) != (1 if wanted else 0):
        yield f"{render.name}: expected {1 if wanted else 0} PodDisruptionBudget, found {len(budgets)}"
    for budget in budgets:
        if not subset(dig(budget, "spec", "selector", "matchLabels", default={}), pod_labels):
            yield f"{render.name}: the PodDisruptionBudget selects no operator pod"
        if ("minAvailable" in budget["spec"]) == ("maxUnavailable" in budget["spec"]):
            yield f"{render.name}: the PodDisruptionBudget must set exactly one of minAvailable and maxUnavailable"


def check_strategy(render) -> Iterable[str]:
    deployment = objects(render, "Deployment")[0]
    strategy = dig(deployment, "spec", "strategy", "type")
    leader = dig(render.values, "leaderElection", "enabled", default=True)
    if not leader and strategy != "Recreate":
        yield f"{render.name}: without leader election the Deployment must use Recreate (two pods would write), not {strategy}"
    if leader and strategy != "RollingUpdate":
        yield f"{render.name}: with leader election the Deployment should roll ({strategy})"


# ---------------------------------------------------------------------------------------------------
# Properties of particular value sets


def check_value_set(render, container: dict) -> Iterable[str]:
    env = env_map(container)
    if render.name == "default":
        deployment = objects(render, "Deployment")[0]
        if container.get("image") != "ghcr.io/vitistack/kea-operator:0.1.0":
            yield f"default: image is {container.get('image')}, expected the appVersion tag"
        if container.get("resources") != {"limits": {"cpu": "100m", "memory": "128Mi"},
                                          "requests": {"cpu": "10m", "memory": "64Mi"}}:
            yield f"default: resources are {container.get('resources')}"
        if dig(deployment, "spec", "replicas") != 1:
            yield "default: replicas must be 1"
        if any(v in env for v in ("KEA_URL", "KEA_TLS_CA_FILE", "KEA_BASIC_AUTH_PASSWORD_FILE")):
            yield "default: no Kea URL, TLS file or password file is set by default"
    elif render.name == "all-settings":
        if env != ALL_SETTINGS_ENV:
            missing = {k: v for k, v in ALL_SETTINGS_ENV.items() if env.get(k) != v}
            extra = {k: v for k, v in env.items() if k not in ALL_SETTINGS_ENV}
            yield f"all-settings: environment differs: expected but not rendered {missing}; unexpected {extra}"
    elif render.name == "tls-basic-auth":
        for var, value in {"KEA_TLS_CA_FILE": f"{TLS_MOUNT}/ca.crt",
                           "KEA_BASIC_AUTH_USERNAME": "kea-operator",
                           "KEA_BASIC_AUTH_PASSWORD_FILE": f"{BASIC_AUTH_MOUNT}/password",
                           "KEA_TLS_SERVER_NAME": "kea.dhcp.internal"}.items():
            if env.get(var) != value:
                yield f"tls-basic-auth: {var} is {env.get(var)!r}, expected {value!r}"
        if "KEA_TLS_CERT_FILE" in env or "KEA_BASIC_AUTH_PASSWORD" in env:
            yield "tls-basic-auth: sets a client certificate or a password in the environment"
        yield from expect_items(render, {"kea-ca": [("ca.pem", "ca.crt")], "kea-api-password": [("pw", "password")]})
    elif render.name == "mtls":
        for var, value in {"KEA_TLS_CERT_FILE": f"{TLS_MOUNT}/tls.crt", "KEA_TLS_KEY_FILE": f"{TLS_MOUNT}/tls.key",
                           "KEA_TLS_CA_FILE": f"{TLS_MOUNT}/ca.crt", "KEA_HOST": "kea-dhcp4.dhcp.svc",
                           "KEA_PORT": "8443", "KEA_TLS_ENABLED": "true"}.items():
            if env.get(var) != value:
                yield f"mtls: {var} is {env.get(var)!r}, expected {value!r}"
        if any(v.startswith("KEA_BASIC_AUTH") for v in env):
            yield "mtls: basic auth is set beside the client certificate"
        yield from expect_items(render, {"kea-client-tls": [("ca.crt", "ca.crt"), ("tls.crt", "tls.crt"), ("tls.key", "tls.key")]})
    elif render.name == "monitoring":
        if dig(objects(render, "Deployment")[0], "spec", "replicas") != 2:
            yield "monitoring: replicas must be 2"
        budgets = objects(render, "PodDisruptionBudget")
        if budgets and dig(budgets[0], "spec", "minAvailable") != 1:
            yield "monitoring: PodDisruptionBudget minAvailable must be 1"
        monitors = objects(render, "ServiceMonitor")
        if monitors and dig(monitors[0], "metadata", "labels", "release") != "prometheus":
            yield "monitoring: the ServiceMonitor lacks its extra label"


def expect_items(render, expected: dict[str, list[tuple[str, str]]]) -> Iterable[str]:
    pod = dig(objects(render, "Deployment")[0], "spec", "template", "spec")
    actual = {
        v["secret"]["secretName"]: [(i["key"], i["path"]) for i in v["secret"].get("items") or []]
        for v in pod.get("volumes") or []
        if "secret" in v
    }
    if actual != expected:
        yield f"{render.name}: Secret volumes {actual}, expected {expected}"


# ---------------------------------------------------------------------------------------------------
# The chart against the operator's own settings (operator/src/config/args.rs)


def operator_settings(args_rs: Path) -> dict[str, str | None]:
    """Environment variable -> clap default (None when it has none), read from the clap derive."""
    text = args_rs.read_text()
    settings: dict[str, str | None] = {}
    for block in re.findall(r"#\[arg\((.*?)\)\]\s*pub \w+:", text, flags=re.DOTALL):
        env = re.search(r'env\s*=\s*"([A-Z0-9_]+)"', block)
        if env is None:
            continue
        default = re.search(r'default_value\s*=\s*"([^"]*)"', block)
        settings[env.group(1)] = default.group(1) if default else None
    return settings


def same_value(a: str, b: str) -> bool:
    if a.lower() in ("true", "false") or b.lower() in ("true", "false"):
        return a.lower() == b.lower()
    try:
        return float(a) == float(b)
    except ValueError:
        return a == b


def check_against_operator(renders: dict, args_rs: Path) -> Iterable[str]:
    if not args_rs.exists():
        yield f"{args_rs} not found: cannot check that the chart sets every operator setting"
        return
    settings = operator_settings(args_rs)
    if len(settings) < 20:
        yield f"{args_rs}: found only {len(settings)} settings; has the clap derive changed? (assertions.operator_settings)"
        return
    rendered: set[str] = set()
    for render in renders.values():
        container, _ = operator_container(render)
        if container:
            rendered |= set(env_map(container))
    for name in sorted(set(settings) - rendered - set(NOT_SET_BY_CHART)):
        yield f"the operator reads {name} but no value set renders it: add a chart value (and to all-settings.yaml)"
    for name in sorted(rendered - set(settings) - EXTRA_ENV):
        yield f"the chart sets {name}, which the operator does not read (operator/src/config/args.rs)"
    default = renders.get("default")
    container = operator_container(default)[0] if default else None
    if container is None:
        return
    for name, value in env_map(container).items():
        operator_default = settings.get(name)
        if operator_default is None or name in CHART_OWN_DEFAULTS:
            continue
        if not same_value(value, operator_default):
            yield f"default: the chart sets {name}={value!r} but the operator's default is {operator_default!r}"


# ---------------------------------------------------------------------------------------------------


def check_all(renders: dict, args_rs: Path, release: str, namespace: str) -> list[str]:
    failures: list[str] = []
    expected_sets = {"default", "all-settings", "tls-basic-auth", "mtls", "crds-off", "monitoring", "no-leader-election"}
    for missing in sorted(expected_sets - set(renders)):
        failures.append(f"value set {missing} did not render")
    for render in renders.values():
        failures += check_kinds(render)
        container, problems = operator_container(render)
        failures += problems
        if container is None:
            continue
        failures += check_pod_security(render)
        failures += check_probes_and_ports(render, container)
        failures += check_env(render, container, release)
        failures += check_secret_mounts(render, container)
        failures += check_rbac(render, namespace)
        failures += check_crds(render)
        failures += check_services(render, container)
        failures += check_strategy(render)
        failures += check_value_set(render, container)
    failures += check_against_operator(renders, args_rs)
    if not failures:
        print(f"    {len(renders)} value sets: pod security, probes, RBAC (SPEC §7), environment, Secret mounts, CRD gate, selectors")
    return failures
