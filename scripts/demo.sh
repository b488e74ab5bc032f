#!/usr/bin/env bash
# The README's main command, for now: weft-proxy in front of two versions of a small sample
# service on loopback, routed the way Istio users route (a header match sends one user to v2,
# everyone else is split 80/20), then the stats and access log that show what happened.
# (The full mesh demo, with weftd and the Bookinfo-style sample in network namespaces, comes
# with the control plane.)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build}
work=$(mktemp -d /tmp/weft-demo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() {  # URL: until it answers (10 s at most)
  for _ in $(seq 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "demo: $1 did not come up" >&2
  return 1
}

start_service() {  # PORT VERSION
  python3 -c "
import http.server, socketserver
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def do_GET(self):
        body = ('reviews $2 answered %s\n' % self.path).encode()
        self.send_response(200); self.send_header('content-length', str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
S(('127.0.0.1', $1), H).serve_forever()" &
  pids+=($!)
}

V1=$(free_port); V2=$(free_port); PORT=$(free_port)
start_service "$V1" v1
start_service "$V2" v2
wait_for "http://127.0.0.1:$V1/" && wait_for "http://127.0.0.1:$V2/"

cat > "$work/bootstrap.yaml" <<YAML
admin:
  address: {socket_address: {address: 127.0.0.1, port_value: 0}}
static_resources:
  listeners:
  - name: demo
    address: {socket_address: {address: 127.0.0.1, port_value: $PORT}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: demo
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: $work/access.log
          route_config:
            virtual_hosts:
            - name: reviews
              domains: ["*"]
              routes:
              - match:
                  prefix: "/"
                  headers: [{name: end-user, string_match: {exact: jason}}]
                route: {cluster: reviews-v2}
              - match: {prefix: "/"}
                route:
                  weighted_clusters:
                    clusters:
                    - {name: reviews-v1, weight: 80}
                    - {name: reviews-v2, weight: 20}
          http_filters:
          - name: envoy.filters.http.router
  clusters:
  - name: reviews-v1
    load_assignment:
      cluster_name: reviews-v1
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: $V1}}}}]}]
  - name: reviews-v2
    load_assignment:
      cluster_name: reviews-v2
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: $V2}}}}]}]
YAML
"$BUILD_DIR/bin/weft-proxy" -c "$work/bootstrap.yaml" --concurrency 1 -l warning \
  --admin-address-path "$work/admin" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/admin" ] && break; sleep 0.1; done
ADMIN=$(cat "$work/admin")
wait_for "http://$ADMIN/ready"

echo "== weft-proxy on 127.0.0.1:$PORT (admin $ADMIN), config: an Envoy v3 bootstrap"
echo
echo "\$ curl -H 'end-user: jason' http://127.0.0.1:$PORT/reviews/1     # header match -> v2"
curl -s -H 'end-user: jason' "http://127.0.0.1:$PORT/reviews/1"
echo
echo "\$ 50 requests without the header                          # weighted 80/20 -> v1/v2"
for _ in $(seq 50); do curl -s "http://127.0.0.1:$PORT/reviews/2"; done | sort | uniq -c
echo
sleep 1.2  # the access log is flushed every second
echo "== access log (Envoy's default format), last 2 lines"
tail -n 2 "$work/access.log"
echo
echo "== stats: curl 'http://$ADMIN/stats?filter=upstream_rq_2xx'"
curl -s "http://$ADMIN/stats?filter=upstream_rq_2xx"
echo
echo "Try next: change the weights or the header match in a copy of this bootstrap and run"
echo "  $BUILD_DIR/bin/weft-proxy -c your.yaml --mode validate    # errors name the field path"
echo "'make bench' compares weft-proxy with nginx and HAProxy on this machine."
