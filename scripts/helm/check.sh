#!/usr/bin/env bash
# Offline checks of charts/kea-operator (`just chart`): helm lint, render of every value set,
# kubernetes-validate, structural assertions, golden files. See check.py for the steps.
#
# Helm's library comes from PyPI (helm-sdkpy) because no helm binary can be installed here; the
# pinned tools are installed once into the cache, keyed by requirements.txt's hash, so a cached run
# takes seconds. UPDATE_GOLDEN=1 rewrites the golden files and the README value table.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${KEA_OPERATOR_CACHE:-/var/cache/kea-operator}
tools=$cache/tools/helm-py
stamp=$tools/.requirements.sha256
want=$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)

if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing helm-sdkpy and kubernetes-validate into $tools" >&2
  start=$(date +%s)
  staging=$(mktemp -d "$cache/tools/helm-py.XXXXXX")
  trap 'rm -rf "$staging"' EXIT
  # --ignore-requires-python: helm-sdkpy declares Python >= 3.12 and works on 3.11 (machine-facts.md).
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --disable-pip-version-check --no-warn-script-location \
    --ignore-requires-python --target "$staging" -r "$here/requirements.txt" >&2
  echo "$want" >"$staging/.requirements.sha256"
  rm -rf "$tools"
  mv "$staging" "$tools"
  trap - EXIT
  echo "installed in $(( $(date +%s) - start ))s" >&2
fi

# Helm reads HELM_DRIVER when its library loads, so it must be in the environment before Python starts.
export HELM_DRIVER=memory
export PYTHONPATH=$tools:$here
export PYTHONDONTWRITEBYTECODE=1
export CHART_RENDER_DIR=${CHART_RENDER_DIR:-$cache/chart-render}
exec python3 -u "$here/check.py" "$@"
