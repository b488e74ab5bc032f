#!/usr/bin/env bash
# The README's main command, for now: weft-proxy in front of a small sample upstream on loopback,
# a few requests through it, and the stats that prove they went through. (The full mesh demo with
# weftd and the Bookinfo-style sample comes with the control plane.)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build}
work=$(mktemp -d /tmp/weft-demo.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
UP=$(free_port); PORT=$(free_port)
python3 -c "
import http.server, socketserver
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def do_GET(self):
        body = ('hello from the sample upstream, you asked for %s\n' % self.path).encode()
        self.send_response(200); self.send_header('content-length', str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer(('127.0.0.1', $UP), H).serve_forever()" &
pids+=($!)
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
          - name: envoy.access_loggers.stdout
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: {prefix: "/hello"}
                direct_response: {status: 200, body: {inline_string: "hello from weft-proxy itself\n"}}
              - match: {prefix: "/"}
                route: {cluster: sample}
          http_filters:
          - name: envoy.filters.http.router
  clusters:
  - name: sample
    type: STATIC
    load_assignment:
      cluster_name: sample
      endpoints:
      - lb_endpoints:
        - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: $UP}}}
YAML
"$BUILD_DIR/bin/weft-proxy" -c "$work/bootstrap.yaml" --concurrency 1 -l warning \
  --admin-address-path "$work/admin" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/admin" ] && break; sleep 0.1; done
ADMIN=$(cat "$work/admin")
echo "== weft-proxy listening on 127.0.0.1:$PORT, admin on $ADMIN"
for path in /hello /products/1 /reviews; do
  echo "\$ curl http://127.0.0.1:$PORT$path"; curl -s "http://127.0.0.1:$PORT$path"
done
sleep 1.2  # the access log is flushed every second
echo "== stats (curl http://$ADMIN/stats?filter=rq_2xx)"
curl -s "http://$ADMIN/stats?filter=rq_2xx"
echo
echo "Try next: edit a route in $work/bootstrap.yaml style and run weft-proxy -c yourfile.yaml;"
echo "          'make bench' compares weft-proxy with nginx and HAProxy on this machine."
