#!/usr/bin/env bash
# The README's main command: a service mesh on this host. weftctl installs the control plane
# (weftd), adds Bookinfo's six workloads (samples/bookinfo) to the mesh, each in its own network
# namespace with a sidecar that captures its traffic, applies Istio's default Bookinfo routing
# (every service to v1), drives some traffic and shows which versions answered, then says what to
# try next. Everything keeps running afterwards; the last lines say how to tear it down.
# Idempotent: a second run reuses what is already up.
set -euo pipefail
cd "$(dirname "$0")/.."
# `demo.sh --root-check` only checks for root (the Makefile asks before it builds).
BUILD_DIR=${1:-build}
ROOT=$(pwd)
case $BUILD_DIR in /*) BIN="$BUILD_DIR/bin" ;; *) BIN="$ROOT/$BUILD_DIR/bin" ;; esac
WEFTCTL="$BIN/weftctl"
SAMPLES="$ROOT/samples/bookinfo"
ISTIO="$(dirname "$ROOT")/shared/conformance/istio-samples"
PYTHON=$(python3 -c 'import sys; print(sys.executable)')  # the interpreter, not a shim
HOME_DIR=${WEFT_HOME:-/var/lib/weft}  # weftctl's default home as root
# For tests (tests/e2e): extra `weftctl install` flags (their own bridge, subnet and ports), and a
# suffix for the workload names so that a test run's namespaces are its own.
read -r -a INSTALL_ARGS <<< "${WEFT_DEMO_INSTALL_ARGS:-}"
SUFFIX=${WEFT_DEMO_SUFFIX:-}

if [ "$(id -u)" -ne 0 ]; then
  cat >&2 <<'EOF'
make demo puts each workload in its own network namespace with iptables capture, which needs
root. Run it as:

    sudo make demo

(Without root, `weftctl add-to-mesh --no-capture` runs workloads on the host with explicit
upstream ports: docs/user-guide/bookinfo.md, "Without root".)
EOF
  exit 1
fi
[ "$BUILD_DIR" = --root-check ] && exit 0

if [ ! -d "$ISTIO" ]; then
  echo "demo: Istio's Bookinfo samples are expected in $ISTIO (the workspace's shared/)" >&2
  exit 1
fi

say() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

# A workload is up when its supervisor (the process that owns app + sidecar) is alive.
running() {
  local record="$HOME_DIR/workloads/$1/workload.json" pid
  [ -f "$record" ] || return 1
  pid=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("pids", {}).get("supervisor") or 0)' "$record")
  [ "$pid" -gt 0 ] && kill -0 "$pid" 2>/dev/null
}

workload_ip() {
  "$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["ip"])' \
    "$HOME_DIR/workloads/$1/workload.json"
}

say "Installing the control plane (weftd), profile demo"
run "$WEFTCTL" install -y --profile demo ${INSTALL_ARGS[@]+"${INSTALL_ARGS[@]}"}

say "Adding Bookinfo to the mesh: one network namespace and one sidecar per workload"
add() {  # NAME SERVICE VERSION SCRIPT [ENV=VALUE...]
  local name=$1$SUFFIX service=$2 version=$3 script=$4
  shift 4
  if running "$name"; then
    echo "$name: already in the mesh"
    return
  fi
  # A record left by a workload that is no longer running: clear it first.
  [ -f "$HOME_DIR/workloads/$name/workload.json" ] && "$WEFTCTL" remove-from-mesh "$name" || true
  # One service account per service, Istio's Bookinfo names: each gets its own SPIFFE identity.
  run "$WEFTCTL" add-to-mesh "$name" --service "$service" --port 9080 --label "version=$version" \
    --service-account "bookinfo-$service" \
    -- env PYTHONUNBUFFERED=1 "$@" "$PYTHON" "$SAMPLES/$script.py"
}
add details-v1 details v1 details
add ratings-v1 ratings v1 ratings
add reviews-v1 reviews v1 reviews SERVICE_VERSION=v1
add reviews-v2 reviews v2 reviews SERVICE_VERSION=v2
add reviews-v3 reviews v3 reviews SERVICE_VERSION=v3
add productpage-v1 productpage v1 productpage

say "Default routing: Istio's destination-rule-all.yaml and virtual-service-all-v1.yaml"
run "$WEFTCTL" apply -f "$ISTIO/destination-rule-all.yaml"
run "$WEFTCTL" apply -f "$ISTIO/virtual-service-all-v1.yaml"

PAGE_IP=$(workload_ip "productpage-v1$SUFFIX")
URL="http://$PAGE_IP:9080"
version_of() {  # USER: the reviews version behind one page view ("-" when it failed)
  curl -s --max-time 10 "$URL/api/v1/products/0/reviews?u=$1" |
    "$PYTHON" -c 'import json,sys
try: print(json.load(sys.stdin).get("version") or "-")
except ValueError: print("-")'
}

say "Traffic: curl from this host to productpage at $URL"
# The sidecars get their routes within a second or two of the apply: wait for all-v1.
for _ in $(seq 60); do
  ok=1
  for _ in 1 2 3 4 5; do [ "$(version_of demo)" = v1 ] || { ok=0; break; }; done
  [ $ok = 1 ] && break
  sleep 0.5
done
echo "\$ 20 x curl $URL/api/v1/products/0/reviews   # the page's reviews: which version answered"
for _ in $(seq 20); do version_of demo; done | sort | uniq -c | sed 's/^/    /'
echo "\$ 10 x curl '$URL/api/v1/products/0/reviews?u=jason'   # as jason"
for _ in $(seq 10); do version_of jason; done | sort | uniq -c | sed 's/^/    /'
run "$WEFTCTL" proxy-status

say "Zero trust: each sidecar holds a SPIFFE certificate from weftd's CA; sidecars speak mTLS"
run "$WEFTCTL" workloads
# Istio's standard metric, as reviews-v1's sidecar reported the calls it received: who called
# (from the certificate and the exchanged peer metadata) and whether it was mutual TLS.
echo "\$ $WEFTCTL exec reviews-v1$SUFFIX -- curl -s localhost:15000/stats/prometheus | grep istio_requests_total"
"$WEFTCTL" exec "reviews-v1$SUFFIX" -- curl -s --max-time 5 localhost:15000/stats/prometheus |
  "$PYTHON" -c 'import re,sys
for line in sys.stdin:
    if not line.startswith("istio_requests_total{") or "reporter=\"destination\"" not in line:
        continue
    labels = dict(re.findall(r"(\w+)=\"([^\"]*)\"", line))
    print("    {} -> {}  {}  {}  code {}: {}".format(
        labels.get("source_workload"), labels.get("destination_workload"),
        labels.get("connection_security_policy"), labels.get("source_principal"),
        labels.get("response_code"), line.rsplit(" ", 1)[-1].strip()))'

cat <<EOF

== Bookinfo is running in the mesh. Open $URL/productpage (log in as jason to be him).
Try next (docs/user-guide/bookinfo.md tours each one):
  # jason gets reviews v2 (black stars), everyone else v1
  $WEFTCTL apply -f $ISTIO/virtual-service-reviews-test-v2.yaml
  curl -s '$URL/productpage?u=jason' | grep -o 'data-reviews-version="v."'
  # 80% of the traffic to v1, 20% to v2
  $WEFTCTL apply -f $ISTIO/virtual-service-reviews-80-20.yaml
  # a 7 s ratings delay for jason: productpage gives up after ~6 s
  $WEFTCTL apply -f $ISTIO/virtual-service-ratings-test-delay.yaml    # after the test-v2 one
  # zero trust: reviews takes only mTLS, and only from productpage's identity
  $WEFTCTL apply -f $SAMPLES/security/reviews-strict.yaml
  curl -s http://\$($WEFTCTL workloads | awk '/^reviews-v1$SUFFIX /{print \$3}'):9080/reviews/0  # refused: plaintext from outside
  $WEFTCTL apply -f $SAMPLES/security/reviews-only-productpage.yaml
  $WEFTCTL exec ratings-v1$SUFFIX -- curl -s http://reviews:9080/reviews/0   # RBAC: access denied
  # what each sidecar was sent, and what it said
  $WEFTCTL proxy-status; $WEFTCTL proxy-config routes productpage-v1$SUFFIX
  # a workload's sidecar and app logs, its admin endpoint
  tail $HOME_DIR/workloads/productpage-v1$SUFFIX/proxy.log $HOME_DIR/workloads/productpage-v1$SUFFIX/app.log
  $WEFTCTL exec productpage-v1$SUFFIX -- curl -s localhost:15000/stats | grep reviews

Tear it down:
  for w in productpage-v1 reviews-v3 reviews-v2 reviews-v1 ratings-v1 details-v1; do $WEFTCTL remove-from-mesh \$w$SUFFIX; done
  $WEFTCTL uninstall --purge
EOF
