# shellcheck shell=bash
# Config files for the benchmark's servers, sourced by bench/run.sh. Each function writes one file
# and prints its path. Every server gets the same shape of work: one worker, loopback only, no
# access log, keep-alive to the client and to the shared upstream.

# The shared upstream: an nginx worker that answers every request itself. keepalive_requests is
# raised so neither wrk (direct) nor a proxy's pool is forced to reconnect during a run.
write_upstream_config() { # DIR PORT H2C_PORT
  local dir=$1 port=$2 h2_port=$3
  cat >"$dir/upstream.conf" <<CONF
worker_processes 1;
daemon off;
pid $dir/upstream.pid;
error_log $dir/logs/upstream-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  $(nginx_temp_paths "$dir/upstream-tmp")
  keepalive_requests 100000;
  keepalive_timeout 300s;
  server {
    listen 127.0.0.1:$port;
    location / { return 200 "hello world\n"; }
  }
  # h2c (prior knowledge) for the HTTP/2 and gRPC runs. keepalive_requests also bounds the
  # streams per HTTP/2 connection, and a proxy that multiplexes all its requests over one or two
  # upstream connections passes 100000 streams within seconds: nginx then sends GOAWAY, and
  # streams already in flight above its last-stream-id are refused. Without a retry policy for
  # refused-stream those become 503s (Envoy behaves the same: envoyproxy/envoy#36450), which
  # measures the upstream's recycling, not the proxy; so this server allows ~1e9 streams.
  # /grpc.*: a gRPC unary answer as h2load sees it: 200, content-type application/grpc and the
  # grpc-status trailer; no response message (nginx cannot put the 5-byte frame in `return`).
  server {
    listen 127.0.0.1:$h2_port http2;
    keepalive_requests 1000000000;
    location / { return 200 "hello world\n"; }
    location /grpc. {
      default_type application/grpc;
      add_trailer grpc-status 0 always;
      return 200 "";
    }
  }
}
CONF
  echo "$dir/upstream.conf"
}

# nginx as the proxy under test. The client side also gets keepalive_requests 100000, since
# nginx's default (1000) would make wrk reconnect and the other proxies have no such limit.
write_nginx_config() { # DIR PORT UPSTREAM_PORT
  local dir=$1 port=$2 upstream_port=$3
  cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/logs/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  $(nginx_temp_paths "$dir/nginx-tmp")
  keepalive_requests 100000;
  keepalive_timeout 300s;
  upstream upstream {
    server 127.0.0.1:$upstream_port;
    keepalive 64;
    keepalive_requests 100000;
  }
  server {
    listen 127.0.0.1:$port;
    location / {
      proxy_pass http://upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
CONF
  echo "$dir/nginx.conf"
}

# nginx creates these directories (but not their parent) at start; keep them in the temp dir so
# no root-owned system path is needed.
nginx_temp_paths() { # DIR
  local d=$1
  mkdir -p "$d"
  echo "client_body_temp_path $d/body; proxy_temp_path $d/proxy; fastcgi_temp_path $d/fastcgi;" \
    "uwsgi_temp_path $d/uwsgi; scgi_temp_path $d/scgi;"
}

# HAProxy: one thread, HTTP mode, idle upstream connections shared by all clients
# (http-reuse always), no "log" line anywhere so nothing is logged.
write_haproxy_config() { # DIR PORT UPSTREAM_PORT
  local dir=$1 port=$2 upstream_port=$3
  cat >"$dir/haproxy.cfg" <<CONF
global
  nbthread 1
  maxconn 4096

defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 60s
  timeout server 60s

frontend bench
  bind 127.0.0.1:$port
  default_backend upstream

backend upstream
  server upstream 127.0.0.1:$upstream_port
CONF
  echo "$dir/haproxy.cfg"
}

# weft-proxy: an Envoy-style v3 bootstrap with one HTTP/1 listener routing "/" to a STATIC
# cluster. No access_log field, so no access log; admin listens on loopback only.
write_weft_config() { # DIR PORT UPSTREAM_PORT ADMIN_PORT
  local dir=$1 port=$2 upstream_port=$3 admin_port=$4
  cat >"$dir/weft.yaml" <<CONF
node:
  id: bench
  cluster: bench
admin:
  address:
    socket_address: { address: 127.0.0.1, port_value: $admin_port }
static_resources:
  listeners:
  - name: bench
    address:
      socket_address: { address: 127.0.0.1, port_value: $port }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: bench
          codec_type: HTTP1
          route_config:
            name: bench
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route: { cluster: upstream }
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
  - name: upstream
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: upstream
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: { address: 127.0.0.1, port_value: $upstream_port }
CONF
  echo "$dir/weft.yaml"
}

# ---- HTTP/2 and gRPC (BENCH_PROTOCOLS=h2,grpc) -------------------------------------------------
# Each proxy speaks h2c (prior knowledge) to the client and its best HTTP/2-era option upstream.

# nginx: h2c listener; plain requests go upstream over HTTP/1.1 keep-alive (proxy_pass has no
# HTTP/2), gRPC over h2c with grpc_pass (the only HTTP/2 upstream nginx has).
write_nginx_h2_config() { # DIR PORT UPSTREAM_PORT UPSTREAM_H2C_PORT
  local dir=$1 port=$2 upstream_port=$3 upstream_h2_port=$4
  cat >"$dir/nginx-h2.conf" <<CONF
worker_processes 1;
daemon off;
pid $dir/nginx-h2.pid;
error_log $dir/logs/nginx-h2-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  $(nginx_temp_paths "$dir/nginx-h2-tmp")
  # Also the streams one h2load connection may open: at 1x10 a 5 s run can pass 100000.
  keepalive_requests 1000000000;
  keepalive_timeout 300s;
  http2_max_concurrent_streams 128;
  upstream upstream {
    server 127.0.0.1:$upstream_port;
    keepalive 64;
    keepalive_requests 100000;
  }
  upstream upstream_h2c {
    server 127.0.0.1:$upstream_h2_port;
    keepalive 64;
    keepalive_requests 100000;
  }
  server {
    listen 127.0.0.1:$port http2;
    location / {
      proxy_pass http://upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
    location /grpc. { grpc_pass grpc://upstream_h2c; }
  }
}
CONF
  echo "$dir/nginx-h2.conf"
}

# HAProxy: h2c on both sides (bind ... proto h2, server ... proto h2).
write_haproxy_h2_config() { # DIR PORT UPSTREAM_H2C_PORT
  local dir=$1 port=$2 upstream_h2_port=$3
  cat >"$dir/haproxy-h2.cfg" <<CONF
global
  nbthread 1
  maxconn 4096

defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 60s
  timeout server 60s

frontend bench
  bind 127.0.0.1:$port proto h2
  default_backend upstream

backend upstream
  server upstream 127.0.0.1:$upstream_h2_port proto h2
CONF
  echo "$dir/haproxy-h2.cfg"
}

# weft-proxy: the HTTP/1 bootstrap with codec_type AUTO on the listener (h2c prior knowledge is
# detected by its preface) and explicit HTTP/2 to the upstream's h2c port.
write_weft_h2_config() { # DIR PORT UPSTREAM_H2C_PORT ADMIN_PORT
  local dir=$1 port=$2 upstream_h2_port=$3 admin_port=$4
  local h1
  mkdir -p "$dir/weft-h2"  # write_weft_config's file name is fixed; keep the HTTP/1 one intact
  h1=$(write_weft_config "$dir/weft-h2" "$port" "$upstream_h2_port" "$admin_port")
  sed -e 's/codec_type: HTTP1/codec_type: AUTO/' "$h1" >"$dir/weft-h2.yaml"
  cat >>"$dir/weft-h2.yaml" <<CONF
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config:
          http2_protocol_options: {}
CONF
  echo "$dir/weft-h2.yaml"
}

# ---- mutual TLS between two proxies (bench/mtls.sh) -------------------------------------------
# A pair is a client-side proxy (plaintext from wrk) and a server-side proxy (in front of the
# upstream); between them mTLS or plaintext, with the connections between them reused
# (MODE keepalive) or one per request (MODE newconn).

MTLS_CLIENT_ID=spiffe://cluster.local/ns/bench/sa/client
MTLS_SERVER_ID=spiffe://cluster.local/ns/bench/sa/server

# The mesh's kind of PKI, made with openssl: a root, and one leaf per side with a SPIFFE URI SAN,
# all EC P-256 (what the weftd CA issues). Also CERT+KEY bundles, the form HAProxy's `crt` takes.
write_mtls_certs() { # DIR
  local dir=$1/pki name id
  mkdir -p "$dir"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/O=weft bench/CN=bench root" -keyout "$dir/root.key" -out "$dir/root.pem" \
    >/dev/null 2>&1
  for name in client server; do
    id=$MTLS_CLIENT_ID
    [ "$name" = server ] && id=$MTLS_SERVER_ID
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=weft bench" \
      -keyout "$dir/$name.key" -out "$dir/$name.csr" >/dev/null 2>&1
    printf 'subjectAltName=critical,URI:%s\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n' \
      "$id" >"$dir/$name.ext"
    openssl x509 -req -in "$dir/$name.csr" -CA "$dir/root.pem" -CAkey "$dir/root.key" \
      -CAcreateserial -days 1 -extfile "$dir/$name.ext" -out "$dir/$name.pem" >/dev/null 2>&1
    cat "$dir/$name.pem" "$dir/$name.key" >"$dir/$name-bundle.pem"
  done
  echo "$dir"
}

# weft-proxy, client side: plaintext HTTP/1 listener on PORT, cluster `mesh` to the server-side
# proxy at NEXT_PORT. TLS=1 adds the cluster's UpstreamTlsContext (client certificate, the root,
# the server's SPIFFE ID as the URI SAN to match); MODE newconn sets
# common_http_protocol_options.max_requests_per_connection: 1 (Envoy's field on
# envoy.extensions.upstreams.http.v3.HttpProtocolOptions) so every request opens a connection.
write_weft_mtls_client_config() { # DIR NAME PORT NEXT_PORT ADMIN_PORT TLS MODE PKI_DIR
  local dir=$1 name=$2 port=$3 next_port=$4 admin_port=$5 tls=$6 mode=$7 pki=$8
  local file="$dir/$name.yaml"
  mkdir -p "$dir/$name"
  cp "$(write_weft_config "$dir/$name" "$port" "$next_port" "$admin_port")" "$file"
  if [ "$mode" = newconn ]; then
    cat >>"$file" <<CONF
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        common_http_protocol_options:
          max_requests_per_connection: 1
        explicit_http_config:
          http_protocol_options: {}
CONF
  fi
  if [ "$tls" = 1 ]; then
    cat >>"$file" <<CONF
    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        common_tls_context:
          tls_certificates:
          - certificate_chain: { filename: $pki/client.pem }
            private_key: { filename: $pki/client.key }
          validation_context:
            trusted_ca: { filename: $pki/root.pem }
            match_typed_subject_alt_names:
            - san_type: URI
              matcher: { exact: "$MTLS_SERVER_ID" }
CONF
  fi
  echo "$file"
}

# weft-proxy, server side: listener on PORT (TLS=1: DownstreamTlsContext with
# require_client_certificate and the client's SPIFFE ID to match) to the shared upstream.
write_weft_mtls_server_config() { # DIR NAME PORT UPSTREAM_PORT ADMIN_PORT TLS PKI_DIR
  local dir=$1 name=$2 port=$3 upstream_port=$4 admin_port=$5 tls=$6 pki=$7
  local file="$dir/$name.yaml" base
  mkdir -p "$dir/$name"
  base=$(write_weft_config "$dir/$name" "$port" "$upstream_port" "$admin_port")
  if [ "$tls" != 1 ]; then
    cp "$base" "$file"
    echo "$file"
    return
  fi
  # The filter chain's transport_socket goes after its filters, before `clusters:`.
  awk -v pki="$pki" -v client_id="$MTLS_CLIENT_ID" '
    /^  clusters:/ {
      print "      transport_socket:"
      print "        name: envoy.transport_sockets.tls"
      print "        typed_config:"
      print "          \"@type\": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"
      print "          require_client_certificate: true"
      print "          common_tls_context:"
      print "            tls_certificates:"
      print "            - certificate_chain: { filename: " pki "/server.pem }"
      print "              private_key: { filename: " pki "/server.key }"
      print "            validation_context:"
      print "              trusted_ca: { filename: " pki "/root.pem }"
      print "              match_typed_subject_alt_names:"
      print "              - san_type: URI"
      print "                matcher: { exact: \"" client_id "\" }"
    }
    { print }' "$base" >"$file"
  echo "$file"
}

# HAProxy, one side of a pair (SIDE client or server), with a stats socket for its counters.
# client: plaintext frontend on PORT, backend to NEXT_PORT; TLS=1 adds `ssl crt ca-file verify
# required`, TLS=full also `no-ssl-reuse` (no resumption: full handshakes only); MODE keepalive keeps `http-reuse always`, newconn has `http-reuse never` and
# `option http-server-close` (one server connection per request; the client side stays
# keep-alive). server: frontend on PORT (TLS=1: `ssl crt ca-file verify required`) to the
# upstream at NEXT_PORT.
write_haproxy_mtls_config() { # DIR NAME SIDE PORT NEXT_PORT TLS MODE PKI_DIR
  local dir=$1 name=$2 side=$3 port=$4 next_port=$5 tls=$6 mode=$7 pki=$8
  local bind_tls="" server_tls="" reuse="http-reuse always" close=""
  if [ "$tls" != 0 ] && [ "$side" = server ]; then
    bind_tls="ssl crt $pki/server-bundle.pem ca-file $pki/root.pem verify required"
  fi
  if [ "$tls" != 0 ] && [ "$side" = client ]; then
    server_tls="ssl crt $pki/client-bundle.pem ca-file $pki/root.pem verify required"
    # TLS=full: the client side offers no session, so every handshake is a full one.
    [ "$tls" = full ] && server_tls="$server_tls no-ssl-reuse"
  fi
  if [ "$mode" = newconn ] && [ "$side" = client ]; then
    reuse="http-reuse never"
    close="option http-server-close"
  fi
  cat >"$dir/$name.cfg" <<CONF
global
  nbthread 1
  maxconn 4096
  stats socket $dir/$name.sock mode 600 level admin

defaults
  mode http
  option http-keep-alive
  timeout connect 5s
  timeout client 60s
  timeout server 60s

frontend bench
  bind 127.0.0.1:$port $bind_tls
  default_backend next

backend next
  $reuse
  $close
  server next 127.0.0.1:$next_port $server_tls
CONF
  echo "$dir/$name.cfg"
}
