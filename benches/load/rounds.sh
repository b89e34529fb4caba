# The measurements of benches/load/run, one function per kind of round. Sourced, not executed.
# Uses TARGETS, BASE_URL, AUTH, PIDS, CONNECTIONS, DURATION, BIG_BYTES, IDLE_COUNTS, TOKENS,
# CLIENT_TOKEN, TOOL_AUTH, IDLE_BIN, CLIENT_BIN, CLIENT_TARGETS, CLIENT_ARGS, CLIENT_AUTH_ARGS
# and the helpers of lib.sh.

record_note() { printf 'note\t%s\n' "$1" >>"$RESULTS"; }

# One small GET must answer 200 with the upstream's body before any round starts.
check_target() {
    local target=$1 body
    body=$(curl -sS --fail -H "Authorization: ${AUTH[$target]}" "${BASE_URL[$target]}/small") ||
        die "$target does not answer a small GET (see $WORK)"
    [ "$body" = "hello from the bench upstream" ] || die "$target answered an unexpected body: $body"
}

# Warms connection pools and caches; not measured.
warm_up() {
    local target
    for target in "${TARGETS[@]}"; do
        wrk -t2 -c"$CONNECTIONS" -d2s -H "Authorization: ${AUTH[$target]}" \
            "${BASE_URL[$target]}/small" >/dev/null
    done
    for target in "${CLIENT_TARGETS[@]}"; do
        run_client "$target" 1 "$CONNECTIONS" >/dev/null
    done
}

# wrk_field LINE NAME: the number after `NAME=` in a wrk-result line.
wrk_field() { sed -n "s/.* $2=\([0-9]*\).*/\1/p" <<<"$1"; }

# Small keep-alive GETs with wrk: requests/s, p50 and p99 (µs).
round_small_get() {
    local round=$1 target out line requests duration errors non2xx
    for target in "${TARGETS[@]}"; do
        out=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$HERE/wrk-report.lua" \
            -H "Authorization: ${AUTH[$target]}" "${BASE_URL[$target]}/small")
        echo "$out" >>"$WORK/wrk-$target.log"
        line=$(grep '^wrk-result' <<<"$out") || die "no wrk result for $target"
        requests=$(wrk_field "$line" requests)
        duration=$(wrk_field "$line" duration_us)
        errors=$(wrk_field "$line" errors)
        non2xx=$(wrk_field "$line" non2xx)
        if [ "$errors" != 0 ] || [ "$non2xx" != 0 ]; then
            record_note "round $round $target small GET: $errors socket errors, $non2xx non-2xx"
        fi
        record get_rps "$target" "$round" "$(python3 -c "print($requests * 1e6 / $duration)")"
        record get_p50 "$target" "$round" "$(wrk_field "$line" p50_us)"
        record get_p99 "$target" "$round" "$(wrk_field "$line" p99_us)"
    done
}

# 1 GiB download and upload with curl: bytes/s; the proxy's largest RSS while streaming (KiB).
round_streams() {
    local round=$1 target out code speed size sampled
    for target in "${TARGETS[@]}"; do
        if [ "$target" = proxy ]; then
            start_rss_sampler "${PIDS[proxy]}" "$WORK/stream-rss"
        fi
        out=$(curl -sS -o /dev/null -w '%{http_code} %{speed_download} %{size_download}' \
            -H "Authorization: ${AUTH[$target]}" "${BASE_URL[$target]}/big?bytes=$BIG_BYTES")
        read -r code speed size <<<"$out"
        [ "$code" = 200 ] && [ "$size" = "$BIG_BYTES" ] ||
            die "$target download: status $code, $size of $BIG_BYTES bytes"
        record download "$target" "$round" "$speed"

        out=$(head -c "$BIG_BYTES" /dev/zero |
            curl -sS -T - -H 'Expect:' -o "$WORK/sink-answer" -w '%{http_code} %{speed_upload}' \
                -H "Authorization: ${AUTH[$target]}" "${BASE_URL[$target]}/sink")
        read -r code speed <<<"$out"
        [ "$code" = 200 ] && [ "$(cat "$WORK/sink-answer")" = "$BIG_BYTES" ] ||
            die "$target upload: status $code, upstream counted $(cat "$WORK/sink-answer")"
        record upload "$target" "$round" "$speed"

        if [ "$target" = proxy ]; then
            sampled=$(cat "$WORK/stream-rss" 2>/dev/null || echo 0)
            stop_one "$SAMPLER_PID"
            record stream_rss proxy "$round" "$sampled"
        fi
    done
}

# N idle keep-alive connections, each after one request: RSS of nginx (all processes) and of
# the proxy (KiB), for every N in IDLE_COUNTS.
round_idle() {
    local round=$1 target count pid client line held rss hostport
    for target in "${TARGETS[@]}"; do
        [ "$target" = direct ] && continue
        pid=${PIDS[$target]}
        hostport=${BASE_URL[$target]#http://}
        hostport=${hostport%%/*}
        record idle_rss_0 "$target" "$round" "$(tree_rss_kib "$pid")"
        for count in $IDLE_COUNTS; do
            "$IDLE_BIN" --addr "$hostport" --connections "$count" \
                --path "$(url_path "${BASE_URL[$target]}")/small" \
                --authorization "${AUTH[$target]}" >"$WORK/idle.log" 2>&1 &
            client=$!
            STARTED_PIDS+=("$client")
            line=$(wait_for_line "$WORK/idle.log" "^holding" "$client")
            held=$(awk '{print $2}' <<<"$line")
            sleep 1
            rss=$(tree_rss_kib "$pid")
            [ "$held" = "$count" ] || record_note "round $round $target: $line"
            log "$target holds $held idle connections ($(fd_count "$pid") descriptors): $((rss / 1024)) MiB"
            record "idle_rss_$count" "$target" "$round" "$rss"
            stop_one "$client"
            sleep 1
        done
    done
}

# The path part of a base URL (`http://host:port/a/b` gives `/a/b`).
url_path() {
    local rest=${1#http://}
    case $rest in */*) echo "/${rest#*/}" ;; *) echo "" ;; esac
}

# TOKENS first requests, each on a new connection and (for the proxy) with a token it has not
# seen yet: p50 and p99 of curl's time_total (seconds).
round_first_requests() {
    local round=$1 target i auth token out code seconds p50 p99
    for target in "${TARGETS[@]}"; do
        : >"$WORK/first.txt"
        for i in $(seq 1 "$TOKENS"); do
            token="burst-$round-$i-$CLIENT_TOKEN"
            auth="Basic $(printf ':%s' "$token" | base64 -w0)"
            [ "$target" = direct ] && auth=$TOOL_AUTH
            out=$(curl -sS -o /dev/null -w '%{http_code} %{time_total}' \
                -H "Authorization: $auth" "${BASE_URL[$target]}/small")
            read -r code seconds <<<"$out"
            [ "$code" = 200 ] || die "$target first request with a new token: status $code"
            echo "$seconds" >>"$WORK/first.txt"
        done
        read -r p50 p99 < <(python3 -c '
import statistics, sys
v = sorted(float(x) for x in open(sys.argv[1]))
print(statistics.median(v), v[min(len(v) - 1, int(round(0.99 * (len(v) - 1))))])' "$WORK/first.txt")
        record first_p50 "$target" "$round" "$p50"
        record first_p99 "$target" "$round" "$p99"
    done
}

# run_client TARGET SECONDS CONNECTIONS: one bench-client run on a path; prints its JSON line.
run_client() {
    local target=$1
    # shellcheck disable=SC2086 # CLIENT_ARGS holds several words without spaces inside them.
    "$CLIENT_BIN" ${CLIENT_ARGS[$target]} "${CLIENT_AUTH_ARGS[$target]}" \
        --duration "$2" --connections "$3"
}

# json_field JSON NAME: one top-level field of bench-client's report.
json_field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

# A short bench-client run on every path must succeed with only 2xx answers.
check_client_target() {
    local target=$1 out
    out=$(run_client "$target" 0.5 1) || die "bench-client $target failed: $out (see $WORK)"
    [ "$(json_field "$out" errors)" = 0 ] && [ "$(json_field "$out" non2xx)" = 0 ] ||
        die "bench-client $target: $out"
}

# Keep-alive small GETs with bench-client on direct (http and https), reverse, forward and
# CONNECT paths: requests/s, p50 and p99 (µs). Metrics are prefixed `client_`.
round_client_get() {
    local round=$1 target out
    for target in "${CLIENT_TARGETS[@]}"; do
        out=$(run_client "$target" "$DURATION" "$CONNECTIONS") || die "bench-client $target: $out"
        echo "$out" >>"$WORK/client-$target.log"
        if [ "$(json_field "$out" errors)" != 0 ] || [ "$(json_field "$out" non2xx)" != 0 ] ||
            [ "$(json_field "$out" opened)" != "$CONNECTIONS" ]; then
            record_note "round $round $target bench-client: $out"
        fi
        record client_rps "$target" "$round" "$(json_field "$out" rps)"
        record client_p50 "$target" "$round" "$(json_field "$out" p50_us)"
        record client_p99 "$target" "$round" "$(json_field "$out" p99_us)"
    done
}
