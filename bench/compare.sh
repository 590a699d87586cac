#!/usr/bin/env bash
# bench/compare.sh: load leapsmear, chronyd and (when it builds) facebook/time's
# ntpresponder on loopback with the same `leapsmear bench` settings, in
# alternating rounds, and print one table of medians: answered requests per
# second, latency percentiles, and the CPU time each server spent per reply
# (utime+stime from /proc/PID/stat over the run), with ratios to chrony.
#
# Usage: bash bench/compare.sh
# Environment (all optional):
#   ROUNDS=3            rounds; every server is loaded once per round, in rotating order
#   DURATION=10s        length of each load run (at most 60s)
#   BENCH_FLAGS="--workers 4 --window 64"   the same generator settings for every server
#   BASE_PORT=...       first of the loopback UDP ports used (default: random 20000-29999)
#   FBTIME=1            build and include facebook/time's ntpresponder (0 to skip)
#   NTS=1               also load leapsmear and chronyd serving NTS (RFC 8915) with NTS-authenticated
#                       requests (leapsmear bench --nts; a private CA made here with openssl) (0 to skip)
#   FBTIME_VERSION=...  its module version
#   OUT=dir             also keep the raw results there
#
# Every server listens on 127.0.0.1 only; chronyd runs with -x (it never
# touches the clock). Everything started is stopped on exit.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
BENCH_FLAGS=${BENCH_FLAGS:---workers 4 --window 64}
BASE_PORT=${BASE_PORT:-$((20000 + RANDOM % 9900))}
FBTIME=${FBTIME:-1}
NTS=${NTS:-1}
FBTIME_VERSION=${FBTIME_VERSION:-v0.0.0-20260822211804-f81aedc1c1e3}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/leapsmear-compare.XXXXXX")
PIDS=()

log() { printf '%s\n' "$*" >&2; }
die() { log "compare.sh: $*"; exit 1; }

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	if [[ ${policy_created:-0} == 1 ]]; then rm -f /usr/sbin/policy-rc.d; fi
	if [[ -n ${OUT:-} ]]; then
		if mkdir -p "$OUT"; then cp "$WORK"/results.txt "$WORK"/*.log "$OUT"/ 2>/dev/null || true; fi
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- tools -------------------------------------------------------------------
command -v go >/dev/null || die "go is not installed"
if ! command -v chronyd >/dev/null && [[ ! -x /usr/sbin/chronyd ]]; then
	[[ $(id -u) == 0 ]] || die "chronyd is missing; install the Debian package chrony (as root: apt-get install chrony)"
	log "installing chrony; its service is not started (this script only runs chronyd -x, which never touches the"
	log "clock). Where systemd would start it at boot: systemctl disable chrony"
	policy_created=0
	if [[ ! -e /usr/sbin/policy-rc.d ]]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy_created=1
	fi
	apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chrony >/dev/null
	if [[ $policy_created == 1 ]]; then rm -f /usr/sbin/policy-rc.d && policy_created=0; fi
fi
CHRONYD=$(command -v chronyd || echo /usr/sbin/chronyd)
TCK=$(getconf CLK_TCK)

log "building leapsmear"
(cd "$REPO" && go build -o "$WORK/leapsmear" ./cmd/leapsmear)
LS=$WORK/leapsmear

FB=""
if [[ $FBTIME == 1 ]]; then
	log "building facebook/time ntpresponder $FBTIME_VERSION"
	if (mkdir -p "$WORK/fb" && cd "$WORK/fb" && go mod init fbresp &&
		go get "github.com/facebook/time/cmd/ntpresponder@$FBTIME_VERSION" &&
		go build -o "$WORK/ntpresponder" github.com/facebook/time/cmd/ntpresponder) >"$WORK/fb-build.log" 2>&1; then
		FB=$WORK/ntpresponder
	else
		log "facebook/time ntpresponder did not build; skipping it (see the last lines below)"
		tail -3 "$WORK/fb-build.log" >&2 || true
	fi
fi

# --- servers -----------------------------------------------------------------
port_free() { ! { command -v ss >/dev/null && ss -Hlun "sport = :$1" | grep -q .; }; }
next_port() { # sets PORT
	PORT=$BASE_PORT
	while ! port_free "$PORT"; do PORT=$((PORT + 1)); done
	BASE_PORT=$((PORT + 1))
}

NAMES=() PORTS=() SPIDS=() EXTRA=()
# add_server name port pid [extra bench flags]
add_server() { NAMES+=("$1"); PORTS+=("$2"); SPIDS+=("$3"); PIDS+=("$3"); EXTRA+=("${4:-}"); }

# A private CA and a certificate for 127.0.0.1, for the NTS servers.
make_certs() {
	local d=$WORK/pki
	mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=compare-ca \
		-keyout "$d/ca.key" -out "$d/ca.pem" >/dev/null 2>&1
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
		-keyout "$d/server.key" -out "$d/server.csr" >/dev/null 2>&1
	printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$d/ext.cnf"
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
		-extfile "$d/ext.cnf" -out "$d/server.pem" >/dev/null 2>&1
}
start_leapsmear_nts() {
	local port keport
	next_port && port=$PORT
	next_port && keport=$PORT
	"$LS" serve --listen "127.0.0.1:$port" --assume-synced --sockets "$NCPU" --log-level warn \
		--nts-cert "$WORK/pki/server.pem" --nts-key "$WORK/pki/server.key" --nts-ke-listen "127.0.0.1:$keport" \
		>"$WORK/leapsmear-nts.log" 2>&1 &
	add_server leapsmear-nts "$port" $! "--nts --nts-port $keport --nts-ca $WORK/pki/ca.pem"
}
start_chrony_nts() {
	local port keport
	next_port && port=$PORT
	next_port && keport=$PORT
	mkdir -p "$WORK/chrony-nts"
	cat >"$WORK/chrony-nts/chrony.conf" <<-EOF
		port $port
		bindaddress 127.0.0.1
		allow 127.0.0.1
		local stratum 1
		ntsport $keport
		ntsserverkey $WORK/pki/server.key
		ntsservercert $WORK/pki/server.pem
		ntsdumpdir $WORK/chrony-nts
		cmdport 0
		bindcmdaddress /
		pidfile $WORK/chrony-nts/chronyd.pid
		driftfile $WORK/chrony-nts/drift
	EOF
	"$CHRONYD" -x -d -u root -f "$WORK/chrony-nts/chrony.conf" >"$WORK/chronyd-nts.log" 2>&1 &
	add_server chronyd-nts "$port" $! "--nts --nts-port $keport --nts-ca $WORK/pki/ca.pem"
}

start_leapsmear() { # name sockets
	local port
	next_port && port=$PORT
	"$LS" serve --listen "127.0.0.1:$port" --assume-synced --sockets "$2" --log-level warn >"$WORK/$1.log" 2>&1 &
	add_server "$1" "$port" $!
}
start_chrony() {
	local port
	next_port && port=$PORT
	mkdir -p "$WORK/chrony"
	cat >"$WORK/chrony/chrony.conf" <<-EOF
		port $port
		bindaddress 127.0.0.1
		allow 127.0.0.1
		local stratum 1
		cmdport 0
		pidfile $WORK/chrony/chronyd.pid
		driftfile $WORK/chrony/drift
	EOF
	# -x: never touch the clock; -d: stay in the foreground; no ratelimit line:
	# rate limiting is off.
	"$CHRONYD" -x -d -u root -f "$WORK/chrony/chrony.conf" >"$WORK/chronyd.log" 2>&1 &
	add_server chronyd "$port" $!
}
start_fb() {
	local port mport
	next_port && port=$PORT
	next_port && mport=$PORT
	# -manage-loopback=false: do not add or remove addresses on lo.
	"$FB" -manage-loopback=false -ip 127.0.0.1 -port "$port" -monitoringport "$mport" -loglevel warning \
		>"$WORK/ntpresponder.log" 2>&1 &
	add_server fb-ntpresponder "$port" $!
}

NCPU=$(nproc)
start_leapsmear "leapsmear" "$NCPU"
start_leapsmear "leapsmear-1sock" 1
start_chrony
[[ -n $FB ]] && start_fb
if [[ $NTS == 1 ]]; then
	command -v openssl >/dev/null || die "openssl is missing (NTS=0 skips the NTS rows)"
	make_certs
	start_leapsmear_nts
	start_chrony_nts
fi

# Wait until each answers (a short load run), warming it up at the same time.
bench() { "$LS" bench --target "127.0.0.1:$1" --json "${@:2}"; }
ready=()
for i in "${!NAMES[@]}"; do
	ok=0
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		kill -0 "${SPIDS[$i]}" 2>/dev/null || break
		read -r -a extra <<<"${EXTRA[$i]}"
		if out=$(bench "${PORTS[$i]}" --duration 300ms --timeout 200ms "${extra[@]}" 2>/dev/null) && [[ $out == *'"answered":'[1-9]* ]]; then
			ok=1
			break
		fi
		sleep 0.5
	done
	if [[ $ok == 1 ]]; then
		ready+=("$i")
	elif [[ ${NAMES[$i]} == fb-ntpresponder ]]; then
		log "fb-ntpresponder does not answer; skipping it"
		tail -3 "$WORK/ntpresponder.log" >&2 || true
	else
		tail -5 "$WORK/${NAMES[$i]}.log" >&2 || true
		die "${NAMES[$i]} does not answer on 127.0.0.1:${PORTS[$i]}"
	fi
done

# --- rounds ------------------------------------------------------------------
cputicks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
busy() { awk 'NR == 1 {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
json() { sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" <<<"$1"; }

log "loading ${#ready[@]} servers: $ROUNDS rounds of $DURATION each, leapsmear bench $BENCH_FLAGS"
: >"$WORK/results.txt"
read -r -a flags <<<"$BENCH_FLAGS"
n=${#ready[@]}
for ((r = 1; r <= ROUNDS; r++)); do
	for ((k = 0; k < n; k++)); do
		i=${ready[$(((k + r - 1) % n))]}
		name=${NAMES[$i]} pid=${SPIDS[$i]}
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -5 "$WORK"/*.log >&2 || true
			die "$name (pid $pid) has exited"
		fi
		c0=$(cputicks "$pid") b0=$(busy) t0=$(date +%s.%N)
		TIMEFORMAT='%U %S'
		read -r -a extra <<<"${EXTRA[$i]}"
		{ time out=$(bench "${PORTS[$i]}" --duration "$DURATION" "${flags[@]}" "${extra[@]}"); } 2>"$WORK/time.txt" ||
			die "leapsmear bench against $name failed: $out"
		c1=$(cputicks "$pid") b1=$(busy) t1=$(date +%s.%N)
		read -r gu gs <"$WORK/time.txt"
		answered=$(json "$out" answered)
		line=$(awk -v n="$name" -v r="$r" -v a="$answered" -v aps="$(json "$out" answered_per_s)" \
			-v p50="$(json "$out" p50_us)" -v p99="$(json "$out" p99_us)" \
			-v srv="$((c1 - c0))" -v gu="$gu" -v gs="$gs" -v busy="$((b1 - b0))" -v tck="$TCK" -v wall="$t0 $t1" 'BEGIN {
				srv_us = srv / tck * 1e6 / a; gen_us = (gu + gs) * 1e6 / a
				split(wall, w, " ")
				other = (busy / tck - srv / tck - (gu + gs)) / (w[2] - w[1]) # cores
				if (other < 0) other = 0 # tick rounding
				printf "%s %d %.0f %.1f %.1f %.2f %.2f %.2f\n", n, r, aps, p50, p99, srv_us, gen_us, other
			}')
		echo "$line" >>"$WORK/results.txt"
		log "round $r: $line"
	done
done

# --- table -------------------------------------------------------------------
echo
echo "leapsmear bench $BENCH_FLAGS --duration $DURATION; median of $ROUNDS rounds"
echo "$(nproc) CPUs: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1); Linux $(uname -r)"
echo
awk '
function median(s,   a, n, i, j, t) {
	n = split(s, a, " ")
	for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
!($1 in seen) { seen[$1] = 1; order[++k] = $1 }
{ aps[$1] = aps[$1] " " $3; p50[$1] = p50[$1] " " $4; p99[$1] = p99[$1] " " $5
  srv[$1] = srv[$1] " " $6; gen[$1] = gen[$1] " " $7; oth[$1] = oth[$1] " " $8
  raps[$1, $2] = $3; rsrv[$1, $2] = $6; rounds[$2] = 1 }
END {
	# Ratios to chronyd are paired: each round against chronyd in the same
	# round (the machine drifts between minutes), then the median. NTS rows
	# (names ending in -nts) compare with chronyd-nts.
	for (i = 1; i <= k; i++) {
		s = order[i]; ref = s ~ /-nts$/ ? "chronyd-nts" : "chronyd"
		for (r in rounds) if ((s, r) in raps && (ref, r) in raps && raps[ref, r] > 0 && rsrv[ref, r] > 0) {
			qa[s] = qa[s] " " raps[s, r] / raps[ref, r]
			qs[s] = qs[s] " " rsrv[s, r] / rsrv[ref, r]
		}
	}
	printf "| %-16s | %10s | %8s | %8s | %12s | %12s | %10s | %10s | %8s |\n", "server", "answered/s", "p50 us", "p99 us", "CPU us/reply", "gen us/req", "answered/s", "CPU/reply", "other"
	printf "| %-16s | %10s | %8s | %8s | %12s | %12s | %10s | %10s | %8s |\n", "", "", "", "", "(server)", "(generator)", "vs chrony", "vs chrony", "cores"
	printf "|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n", "------------------", "-----------:", "---------:", "---------:", "-------------:", "-------------:", "-----------:", "-----------:", "---------:"
	for (i = 1; i <= k; i++) {
		s = order[i]; a = median(aps[s]); c = median(srv[s])
		printf "| %-16s | %10.0f | %8.1f | %8.1f | %12.2f | %12.2f | %10s | %10s | %8.2f |\n", s, a, median(p50[s]), median(p99[s]), c, median(gen[s]),
			s in qa ? sprintf("%.2fx", median(qa[s])) : "-", s in qs ? sprintf("%.2fx", median(qs[s])) : "-", median(oth[s])
	}
}' "$WORK/results.txt"
echo
echo "leapsmear: $NCPU SO_REUSEPORT sockets (one per CPU); leapsmear-1sock: --sockets 1; chronyd 4.x -x, no ratelimit;"
echo "vs chrony: median over the rounds of the ratio to chronyd's figure in the same round (NTS rows: to chronyd-nts)."
[[ $NTS == 1 ]] && echo "-nts rows: NTS-authenticated requests (leapsmear bench --nts: NTS-KE once, requests built once each, AES-SIV-CMAC-256)."
echo "other cores: CPU the rest of the machine used during the runs (0 on an idle machine)."
