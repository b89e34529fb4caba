# Helpers for benches/load/run: processes, ports, memory sampling and generated configs.
# Sourced, not executed. Expects $WORK (the run's temp dir) and $RESULTS (the TSV) to be set.

STARTED_PIDS=()

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Stops every process this run started (EXIT trap).
stop_all() {
    local pid
    for pid in "${STARTED_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${STARTED_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    STARTED_PIDS=()
}

# Stops one process started by this run.
stop_one() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# A TCP port that was free a moment ago (bind :0, read it, close).
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_for_line FILE PATTERN PID: waits until FILE has a line matching PATTERN; prints it.
wait_for_line() {
    local file=$1 pattern=$2 pid=$3 i
    for i in $(seq 1 600); do
        if grep -q -- "$pattern" "$file" 2>/dev/null; then
            grep -m1 -- "$pattern" "$file"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || { cat "$file" >&2; die "process $pid exited before '$pattern'"; }
        sleep 0.1
    done
    die "timed out waiting for '$pattern' in $file"
}

# Resident memory of one process in KiB (VmRSS, or VmHWM with a second argument).
rss_kib() {
    awk -v f="${2:-VmRSS}:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# Resident memory of a process and its direct children (nginx master + workers), in KiB.
tree_rss_kib() {
    local total=0 child
    total=$(rss_kib "$1")
    for child in $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
        total=$((total + $(rss_kib "$child")))
    done
    echo "$total"
}

# Open file descriptors of a process and its direct children (a rough count of sockets).
fd_count() {
    local pid
    for pid in "$1" $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
        find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null
    done | wc -l
}

# start_rss_sampler PID FILE: writes the largest VmRSS seen (KiB) to FILE every 50 ms.
start_rss_sampler() {
    local pid=$1 file=$2
    (
        max=0
        while kill -0 "$pid" 2>/dev/null; do
            now=$(rss_kib "$pid")
            if [ "${now:-0}" -gt "$max" ]; then max=$now; echo "$max" >"$file"; fi
            sleep 0.05
        done
    ) &
    SAMPLER_PID=$!
    STARTED_PIDS+=("$SAMPLER_PID")
}

# record METRIC TARGET ROUND VALUE: appends one measurement to the results.
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RESULTS"; }

# write_manifests DIR UPSTREAM_PORT TLS_UPSTREAM_PORT USER PASSWORD: two connectors, `tool` for
# the plain upstream and `tool-tls` for the HTTPS one (the only kind CONNECT intercepts), one
# basic-auth Secret for both, and RBAC letting ServiceAccount bench/client use them.
write_manifests() {
    local dir=$1 port=$2 tls_port=$3 user=$4 password=$5
    mkdir -p "$dir"
    cat >"$dir/class.yaml" <<EOF
apiVersion: connectors.alauda.io/v1alpha1
kind: ConnectorClass
metadata:
  name: http-tool
spec:
  auth:
    types:
      - name: basicAuth
        secretType: kubernetes.io/basic-auth
        params:
          - name: username
            type: string
          - name: password
            type: string
  proxy:
    ref:
      kind: Service
      name: connectors-proxy-service
      namespace: connectors-system
EOF
    cat >"$dir/connector.yaml" <<EOF
apiVersion: connectors.alauda.io/v1alpha1
kind: Connector
metadata:
  name: tool
  namespace: bench
spec:
  connectorClassName: http-tool
  address: "http://127.0.0.1:$port"
  auth:
    name: basicAuth
    secretRef:
      name: tool-secret
---
apiVersion: connectors.alauda.io/v1alpha1
kind: Connector
metadata:
  name: tool-tls
  namespace: bench
spec:
  connectorClassName: http-tool
  address: "https://127.0.0.1:$tls_port"
  auth:
    name: basicAuth
    secretRef:
      name: tool-secret
---
apiVersion: v1
kind: Secret
metadata:
  name: tool-secret
  namespace: bench
type: kubernetes.io/basic-auth
stringData:
  username: "$user"
  password: "$password"
EOF
    cat >"$dir/rbac.yaml" <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: use-tool
  namespace: bench
rules:
  - apiGroups: ["connectors.alauda.io"]
    resources: ["connectors"]
    resourceNames: ["tool", "tool-tls"]
    verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: use-tool
  namespace: bench
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: use-tool
subjects:
  - kind: ServiceAccount
    name: client
    namespace: bench
EOF
}

# write_nginx_conf FILE PREFIX_DIR LISTEN_PORT UPSTREAM_PORT AUTHORIZATION: nginx doing what
# the proxy does with a static header: same path prefix, same injected Authorization.
write_nginx_conf() {
    local file=$1 dir=$2 port=$3 upstream=$4 authorization=$5
    mkdir -p "$dir/tmp"
    local user_line=""
    # Workers would otherwise run as nobody and could not reach the run's private temp dir.
    [ "$(id -u)" = 0 ] && user_line="user root;"
    cat >"$file" <<EOF
$user_line
daemon off;
worker_processes auto;
worker_rlimit_nofile 40000;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 30000; }
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    client_max_body_size 0;
    upstream tool {
        server 127.0.0.1:$upstream;
        keepalive 256;
    }
    server {
        listen 127.0.0.1:$port backlog=4096;
        location /namespaces/bench/connectors/tool/ {
            proxy_pass http://tool/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Authorization "$authorization";
            proxy_request_buffering off;
            proxy_buffering off;
        }
    }
}
EOF
}
