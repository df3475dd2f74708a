"""Prints the operator container's environment from a rendered chart manifest, as a docker --env-file.

    python3 scripts/helm/rendered_env.py RENDERED.yaml [NAMESPACE]

Used by images/smoke.sh to start the real image with exactly the environment the chart renders, so
a chart value the operator would refuse is found without a cluster. Downward-API variables get the
value the kubelet would give them (POD_NAMESPACE: the namespace argument, default kea-system).
"""

from __future__ import annotations

import sys

import yaml



def main() -> int:
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    namespace = sys.argv[2] if len(sys.argv) == 3 else "kea-system"
    with open(sys.argv[1]) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    deployments = [d for d in docs if d.get("kind") == "Deployment"]
    if len(deployments) != 1:
        print(f"{sys.argv[1]}: expected one Deployment, found {len(deployments)}", file=sys.stderr)
        return 1
    containers = deployments[0]["spec"]["template"]["spec"]["containers"]
    operator = next((c for c in containers if c.get("name") == "operator"), None)
    if operator is None:
        print(f"{sys.argv[1]}: no container named operator", file=sys.stderr)
        return 1
    for var in operator.get("env") or []:
        field = ((var.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
        if "value" in var:
            value = str(var["value"])
        elif field == "metadata.namespace":
            value = namespace
        else:
            print(f"{var['name']}: valueFrom {var.get('valueFrom')} cannot be reproduced outside a pod", file=sys.stderr)
            return 1
        if "\n" in value:
            print(f"{var['name']}: a value with a newline cannot go into an env file", file=sys.stderr)
            return 1
        print(f"{var['name']}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
