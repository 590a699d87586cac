#!/usr/bin/env bash
# Runs leapvet over widely used Go modules taken from the Go module proxy, as
# docs/leapvet.md reports: each module (at the version named below) is
# downloaded with `go mod download`, copied to a scratch folder with its
# dependencies, and checked with `go vet -vettool=leapvet -sources ./...`
# (go vet caches what leapvet learns of each dependency, which makes it much
# faster than `leapvet ./...` over many modules; -sources also lists every
# wall-clock duration, reaching a sink or not). Test files are left out of
# the counts: production code only. One report file per module lands in
# OUTDIR, with a summary.
#
# Usage: bash tools/leapvet-survey.sh [OUTDIR]      (default /tmp/leapvet-survey)
# It needs the module proxy (GOPROXY) and takes some minutes on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-/tmp/leapvet-survey}")
mkdir -p "$out/src"
export GOTOOLCHAIN=local GOWORK=off GOFLAGS=-mod=mod
go build -o "$out/leapvet" ./cmd/leapvet

modules=(
  github.com/hashicorp/raft@v1.8.0
  github.com/hashicorp/memberlist@v0.7.0
  github.com/miekg/dns@v1.1.73
  github.com/nats-io/nats.go@v1.55.0
  github.com/nats-io/nats-server/v2@v2.15.2
  github.com/redis/go-redis/v9@v9.23.0
  github.com/cenkalti/backoff/v4@v4.3.0
  github.com/patrickmn/go-cache@v2.1.0+incompatible
  github.com/robfig/cron/v3@v3.0.1
  github.com/go-co-op/gocron/v2@v2.21.2
  github.com/golang-jwt/jwt/v5@v5.3.1
  github.com/allegro/bigcache/v3@v3.1.0
  github.com/dgraph-io/ristretto/v2@v2.4.2
  github.com/jackc/pgx/v5@v5.12.0
  github.com/go-sql-driver/mysql@v1.10.1
  google.golang.org/grpc@v1.85.0
  github.com/segmentio/kafka-go@v0.4.51
  github.com/IBM/sarama@v1.61.1
  github.com/hashicorp/go-retryablehttp@v0.7.8
  github.com/quic-go/quic-go@v0.65.0
  github.com/gorilla/websocket@v1.5.3
  github.com/prometheus/client_golang@v1.25.0
  golang.org/x/time@v0.16.0
  github.com/caddyserver/certmagic@v0.25.6
  github.com/go-chi/httprate@v0.16.1
  github.com/coreos/go-oidc/v3@v3.21.0
  github.com/minio/minio-go/v7@v7.4.1
  github.com/rabbitmq/amqp091-go@v1.16.0
  github.com/gocql/gocql@v1.7.0
  github.com/hashicorp/consul/api@v1.34.5
  go.etcd.io/etcd/client/v3@v3.7.3
  github.com/avast/retry-go/v4@v4.7.0
  github.com/gofiber/fiber/v2@v2.52.15
  github.com/labstack/echo/v4@v4.16.0
  github.com/valyala/fasthttp@v1.78.0
  github.com/beevik/ntp@v1.6.0
  github.com/hashicorp/serf@v0.11.0
  github.com/eapache/go-resiliency@v1.7.0
  github.com/go-kit/kit@v0.13.0
  github.com/rcrowley/go-metrics@v0.0.0-20250401214520-65e299d6c5c9
  github.com/afex/hystrix-go@v0.0.0-20180502004556-fa1af6a1f4f5
  github.com/throttled/throttled/v2@v2.15.0
  github.com/ulule/limiter/v3@v3.11.2
  github.com/jellydator/ttlcache/v3@v3.4.1
  github.com/VictoriaMetrics/VictoriaMetrics@v1.151.0
  github.com/prometheus/prometheus@v0.316.0
)

: >"$out/summary.txt"
for mod in "${modules[@]}"; do
  name=${mod//\//_}
  # Outside any module, so that nothing here is changed.
  dir=$(cd "$out" && go mod download -json "$mod" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  if [ -z "$dir" ]; then
    echo "$mod: download failed" | tee -a "$out/summary.txt"
    continue
  fi
  rm -rf "${out:?}/src/$name"
  cp -r "$dir" "$out/src/$name"
  chmod -R u+w "$out/src/$name"
  # Replacements by sibling folders of a repository (etcd's) are not in the
  # module: use the required versions from the proxy instead.
  for r in $(awk '/=> *\.\.?\// { if ($1 == "replace") print $2; else print $1 }' "$out/src/$name/go.mod" 2>/dev/null); do
    (cd "$out/src/$name" && go mod edit -dropreplace="$r")
  done
  # A module from before Go modules has no go.mod: give it one.
  [ -f "$out/src/$name/go.mod" ] || (cd "$out/src/$name" && go mod init "${mod%@*}" >/dev/null 2>&1 && go mod tidy >/dev/null 2>&1) || true
  # The packages that load: a few modules have a package whose dependency
  # the proxy no longer serves; those packages are counted and left out.
  (cd "$out/src/$name" && go mod download >/dev/null 2>&1 || true)
  pkgs=$(cd "$out/src/$name" && go list -e -f '{{if and (not .Error) (not .DepsErrors)}}{{.ImportPath}}{{end}}' ./... 2>/dev/null || true)
  all=$(cd "$out/src/$name" && go list -e ./... 2>/dev/null | wc -l)
  skipped=$((all - $(echo "$pkgs" | grep -c . || true)))
  status=0
  if [ -n "$pkgs" ]; then
    # shellcheck disable=SC2086 # one argument per package
    (cd "$out/src/$name" && go vet -vettool="$out/leapvet" -sources $pkgs) >"$out/$name.all.txt" 2>&1 || status=$?
  else
    echo "no package loads" >"$out/$name.all.txt"
    status=1
  fi
  grep -v '_test\.go:' "$out/$name.all.txt" >"$out/$name.txt" || true
  n=$(grep -c ': .* can be negative or zero when the clock is stepped' "$out/$name.txt" || true)
  inv=$(grep -c ': wall-clock duration (inventory)' "$out/$name.txt" || true)
  # go vet exits 1 both for findings and for packages that do not build:
  # anything but leapvet's lines (and go's notes on downloads) is an error.
  errors=$(grep -E '^vet: |^[^ #]+\.go:[0-9]+:[0-9]+: |^go: .*(error|cannot|not found)|^no package loads' "$out/$name.all.txt" |
    grep -cvE 'wall-clock duration \(inventory\)|can be negative or zero when the clock' || true)
  if [ "$status" -ne 0 ] && [ "$errors" -gt 0 ]; then
    echo "$mod: go vet failed (exit $status), see $out/$name.all.txt" | tee -a "$out/summary.txt"
  else
    echo "$mod: $n reports, $inv wall-clock durations, $skipped of $all packages not loadable" | tee -a "$out/summary.txt"
  fi
done
