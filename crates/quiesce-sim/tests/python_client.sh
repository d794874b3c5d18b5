#!/usr/bin/env bash
# Shows that the official Elasticsearch Python client (8.x, from PyPI) and curl work against
# the simulator (`quiesce-sim`) unchanged: the client's product check, its error classes, its
# media types.
#
# Creates a throwaway venv, installs `elasticsearch` 8.x into it, starts two simulators (one
# plain, one with users and an API key) on free ports, and runs tests/python_client.py plus a
# few `curl -sS -i` header checks. Skips (exit 0, with the reason) when python3 or the package
# is not available; fails (non-zero) on any mismatch. The simulators are stopped on exit.
set -euo pipefail
cd "$(dirname "$0")"

skip() { echo "python client check skipped: $*"; exit 0; }

command -v python3 >/dev/null 2>&1 || skip "python3 not found"
command -v curl >/dev/null 2>&1 || skip "curl not found"

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

python3 -m venv "$work/venv" >"$work/venv.log" 2>&1 || skip "python3 cannot create a venv ($(tail -n 1 "$work/venv.log"))"
if ! "$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    'elasticsearch>=8,<9' >"$work/pip.log" 2>&1; then
  skip "cannot install elasticsearch 8.x from PyPI ($(tail -n 1 "$work/pip.log"))"
fi
echo "python client: $("$work/venv/bin/python" -c 'import elasticsearch; print("elasticsearch", elasticsearch.__versionstr__)')"

cargo build --quiet -p quiesce-sim --bin quiesce-sim
target_dir=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
sim_bin="$target_dir/debug/quiesce-sim"

# Starts a simulator and sets sim_url once its first stdout line says where it listens (no
# command substitution: the pid must be recorded in this shell for the cleanup).
start_sim() {
  local name=$1; shift
  "$sim_bin" --listen 127.0.0.1:0 "$@" >"$work/$name.out" 2>"$work/$name.err" &
  pids+=("$!")
  local line=""
  for _ in $(seq 1 100); do
    line=$(head -n 1 "$work/$name.out" 2>/dev/null || true)
    [[ $line == "listening on http://"* ]] && break
    sleep 0.1
  done
  if [[ $line != "listening on http://"* ]]; then
    echo "simulator $name did not start; first line: '$line'; stderr:" >&2
    cat "$work/$name.err" >&2
    return 1
  fi
  sim_url=${line#listening on }
}

cat >"$work/secured.yaml" <<'SEED'
security:
  users:
    - {username: admin, password: s3cret, roles: [manage_ml]}
    - {username: viewer, password: look, roles: [monitor_ml]}
  api_keys:
    - {id: py-key, key: py-secret, name: python, username: ci-bot, roles: [manage_ml]}
SEED

start_sim plain
url=$sim_url
start_sim secured --seed "$work/secured.yaml"
secured_url=$sim_url

failures=0
# check NAME EXPECTED_STATUS CURL_ARGS...: status line, product header and content type.
check() {
  local name=$1 status=$2; shift 2
  local response
  response=$(curl -sS -i "$@" | tr -d '\r')
  local ok=1
  grep -q "^HTTP/1.1 $status " <<<"$response" || ok=0
  grep -qi '^x-elastic-product: Elasticsearch$' <<<"$response" || ok=0
  grep -qi '^content-type: application/json' <<<"$response" || ok=0
  if [[ $ok == 1 ]]; then
    echo "curl: $name ok"
  else
    echo "curl: $name FAILED (want $status, product header, JSON content type):" >&2
    echo "$response" >&2
    failures=$((failures + 1))
  fi
}

check "GET /" 200 "$url/"
check "HEAD /" 200 -I "$url/"
check "unknown job" 404 -X POST "$url/_ml/anomaly_detectors/nope/_close"
check "unknown path" 400 "$url/_nope/nothing"
check "wrong method" 405 -X DELETE "$url/_ml/info"
check "unknown parameter" 400 -X POST "$url/_ml/anomaly_detectors/_all/_close?bogus=1"
check "no credentials" 401 "$secured_url/_ml/info"
check "wrong password" 401 -u admin:wrong "$secured_url/_ml/info"
check "missing privilege" 403 -u viewer:look -X POST "$secured_url/_ml/set_upgrade_mode?enabled=false"
check "credentials" 200 -u admin:s3cret "$secured_url/_ml/info"

if ! curl -sS -i "$secured_url/" | tr -d '\r' | grep -q '^[Ww][Ww][Ww]-[Aa]uthenticate: Basic realm="security" charset="UTF-8"$'; then
  echo "curl: 401 lacks WWW-Authenticate: Basic realm=\"security\" charset=\"UTF-8\"" >&2
  failures=$((failures + 1))
fi

"$work/venv/bin/python" python_client.py "$url" "$secured_url" || failures=$((failures + 1))

if [[ $failures -gt 0 ]]; then
  echo "python client check: $failures failure(s)" >&2
  exit 1
fi
echo "python client check: ok"
