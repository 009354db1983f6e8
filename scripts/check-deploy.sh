#!/usr/bin/env bash
# Validates deploy/kubernetes/ offline against the schema of a current Kubernetes release
# (kubernetes-validate from PyPI, in a virtual environment of its own, --strict: an unknown field
# is an error). Then a copy with a misspelt field must fail: the check can fail.
set -euo pipefail
cd "$(dirname "$0")/.."
kubernetes=1.37.0
venv=$(mktemp -d)
trap 'rm -rf "$venv"' EXIT
python3 -m venv "$venv"
"$venv/bin/pip" install -q "kubernetes-validate==$kubernetes"
"$venv/bin/kubernetes-validate" --strict --kubernetes-version "$kubernetes" deploy/kubernetes/*.yaml
sed 's/hostPID: true/hostPid: true/' deploy/kubernetes/freezectld-daemonset.yaml > "$venv/broken.yaml"
if "$venv/bin/kubernetes-validate" --strict --quiet --kubernetes-version "$kubernetes" "$venv/broken.yaml" >/dev/null 2>&1; then
  echo "check-deploy: a DaemonSet with a misspelt field (hostPid) passed the validation" >&2
  exit 1
fi
# The ConfigMap's files hold for the daemon itself: parsed as freezectld parses them at start
# (its hidden check arguments), with the build given as $1 (CI: the test build's freezectld).
if [ -n "${1:-}" ]; then
  for pair in policy.toml:policy freezectld.toml:configuration; do
    key=${pair%%:*} kind=${pair##*:}
    python3 -c 'import sys, yaml
for doc in yaml.safe_load_all(open(sys.argv[1])):
    if doc and doc.get("kind") == "ConfigMap": sys.stdout.write(doc["data"][sys.argv[2]])' \
      deploy/kubernetes/freezectld-daemonset.yaml "$key" | "$1" "--parse-$kind-from-stdin"
  done
  echo "check-deploy: the ConfigMap's policy.toml and freezectld.toml hold for $1"
fi
echo "check-deploy: deploy/kubernetes/ is valid for Kubernetes $kubernetes (strict)"
