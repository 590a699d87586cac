package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/client"
	"github.com/leapsmear/leapsmear/internal/testenv"
	"github.com/leapsmear/leapsmear/ntp"
	"github.com/leapsmear/leapsmear/ratelimit"
)

// runBounded runs the command line in-process, failing the test if it does
// not end within 5 s (a bad flag that slipped through would serve forever).
func runBounded(t *testing.T, args ...string) (code int, stderr string) {
	t.Helper()
	type result struct {
		code           int
		stdout, stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, out, errs := runCapture(args...)
		done <- result{code, out, errs}
	}()
	select {
	case r := <-done:
		return r.code, r.stderr
	case <-time.After(5 * time.Second):
		t.Fatalf("leapsmear %s did not exit: a bad option was accepted", strings.Join(args, " "))
		return 0, ""
	}
}

// TestServeBadFlags: every bad option exits 2 with one line naming it,
// before anything is bound.
func TestServeBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--policy", "bogus"}, `--policy: policy "bogus"`},
		{[]string{"--policy", "linear:-30s:0s"}, "--policy"},
		{[]string{"--policy", "step:0s:1s"}, "--policy"},
		{[]string{"--listen", "nonsense"}, `--listen nonsense: want host:port`},
		{[]string{"--listen", ""}, `--listen: want host:port`},
		{[]string{"--listen", "127.0.0.1:70000"}, "--listen"},
		{[]string{"--rehearse", "tomorrow"}, "--rehearse"},
		{[]string{"--rehearse", "2030-01-01T00:00:00Z,+2"}, "--rehearse"},
		{[]string{"--rehearse", "now+1h"}, "--rehearse"},
		{[]string{"--refid", "TOOLONG"}, `--refid "TOOLONG"`},
		{[]string{"--refid", "é"}, "--refid"},
		{[]string{"--time-offset", "1h", "--time-offset-to", "2016-12-31T18:00:00Z"}, "--time-offset 1h0m0s: give either a duration (--time-offset) or a target instant (--time-offset-to), not both"},
		{[]string{"--time-offset-to", "2016-12-31 18:00"}, "--time-offset-to"},
		{[]string{"--time-offset", "an hour"}, "time-offset"},
		{[]string{"--stratum", "0"}, "--stratum 0: want 1 to 15"},
		{[]string{"--stratum", "16"}, "--stratum 16: want 1 to 15"},
		{[]string{"--stratum", "300"}, "stratum"},
		{[]string{"--clock", "sundial"}, "--clock"},
		{[]string{"--root-delay", "-1s"}, "--root-delay -1s: want 0 to"},
		{[]string{"--log-level", "loud"}, "--log-level"},
		{[]string{"--log-format", "xml"}, "--log-format"},
		{[]string{"--sockets", "many"}, "sockets"},
		{[]string{"--sockets", "-1"}, "--sockets -1: want 0 (one per CPU) to 1024"},
		{[]string{"--root-dispersion", "1000h"}, "--root-dispersion 1000h0m0s: want 0 to"},
		{[]string{"--time-offset", "2100000h"}, "--time-offset 2100000h0m0s: want at most"},
		{[]string{"--time-offset", "-600000h"}, "--time-offset -600000h0m0s: want at most"},
		{[]string{"--time-offset-to", "2100-01-01T00:00:00Z"}, "--time-offset-to 2100-01-01T00:00:00Z: want an instant within 68 years"},
		{[]string{"--rate-limit", "NaN"}, "--rate-limit NaN: want a finite number"},
		{[]string{"--rate-limit", "Inf"}, "--rate-limit +Inf: want a finite number"},
		{[]string{"--rate-limit", "-1"}, "--rate-limit -1: want a finite number"},
		{[]string{"--rate-limit", "1", "--rate-burst", "-5"}, "--rate-burst -5: want 1 or more"},
		{[]string{"--rate-limit", "1", "--rate-entries", "-1"}, "--rate-entries -1: want 0"},
		{[]string{"--rate-limit", "1", "--rate-ipv6-prefix-share", "1"}, "--rate-ipv6-prefix-share 1: want 2 to 65536"},
		{[]string{"--rate-ipv6-prefix-share", "-8"}, "--rate-ipv6-prefix-share -8: want 2 to 65536"},
		{[]string{"--rate-ipv6-prefix-share", "70000"}, "--rate-ipv6-prefix-share 70000: want 2 to 65536"},
		{[]string{"--rate-ipv6-prefix-share", "NaN"}, "rate-ipv6-prefix-share"},
		{[]string{"--rate-ipv6-prefix-share", "Inf"}, "rate-ipv6-prefix-share"},
		{[]string{"--rate-ipv6-prefix-share", "2.5"}, "rate-ipv6-prefix-share"},
		{[]string{"--rate-limit", "1e9", "--rate-burst", "1125899906842624", "--rate-ipv6-prefix-share", "65536"}, "--rate-ipv6-prefix-share 65536: with rate-limit 1e+09"},
		{[]string{"--no-such-flag"}, "no-such-flag"},
		{[]string{"extra-argument"}, "takes no arguments"},
	} {
		args := append([]string{"serve", "--listen", "127.0.0.1:0"}, c.args...)
		code, stderr := runBounded(t, args...)
		lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
		if code != 2 || len(lines) != 1 || !strings.HasPrefix(lines[0], "leapsmear: ") || !strings.Contains(lines[0], c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line containing %q", c.args, code, stderr, c.want)
		}
	}
}

// serveInProcess runs leapsmear serve in-process until the test ends and
// returns the address it serves and its log (JSON). It waits for the
// start-up summary.
func serveInProcess(t *testing.T, args ...string) (addr string, summary map[string]any, logs *testenv.Buffer) {
	t.Helper()
	addrs, summary, logs := serveInProcessAll(t, args...)
	if len(addrs) != 1 {
		t.Fatalf("serving %v", addrs)
	}
	return addrs[0], summary, logs
}

// serveInProcessAll is serveInProcess for a server of several listen
// addresses: it returns them all, in order.
func serveInProcessAll(t *testing.T, args ...string) (addrs []string, summary map[string]any, logs *testenv.Buffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs = &testenv.Buffer{}
	root := newRootCmd()
	root.SetArgs(append([]string{"serve", "--log-format", "json"}, args...))
	root.SetOut(&bytes.Buffer{})
	root.SetErr(logs)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(5 * time.Second):
			t.Error("serve did not stop within 5 s of its context ending")
			return nil
		}
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(logs.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "serving" {
				listen, _ := rec["listen"].([]any)
				for _, a := range listen {
					addrs = append(addrs, a.(string))
				}
				return addrs, rec, logs
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended: %v\n%s", err, logs)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("no start-up summary within 5 s:\n%s", logs)
	return nil, nil, nil
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "leapsmear.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestServeConfigFile: options come from the TOML file, and flags given on
// the command line win over it.
func TestServeConfigFile(t *testing.T) {
	conf := writeConfig(t, `# a leapsmear config
listen = ["127.0.0.1:0"]
policy = "step"
stratum = 5
refid = "CONF"
root-dispersion = "3ms"
time-offset-to = "2016-12-31T20:00:00Z"
assume-synced = true
sockets = 1
`)
	addr, summary, _ := serveInProcess(t, "--config", conf, "--stratum", "7")
	if summary["policy"] != "step" || summary["source"] != "shifted(system)" || summary["stratum"] != float64(7) {
		t.Errorf("summary %v", summary)
	}
	resp, err := client.Query(context.Background(), addr, client.Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	h := resp.Header
	// The step policy on the last day before the 2016 leap announces it.
	refid, _ := ntp.RefIDFromString("CONF")
	if h.Stratum != 7 || h.ReferenceID != refid || h.Leap != ntp.LeapInsert ||
		h.RootDispersion != ntp.ShortFromDuration(3*time.Millisecond) {
		t.Errorf("reply %+v", h)
	}
	if day := resp.T3.UTC().Format(time.DateOnly); day != "2016-12-31" {
		t.Errorf("serving %v, want the replayed 2016-12-31", resp.T3)
	}

	// A bad value in the file does not matter when a flag replaces it.
	conf = writeConfig(t, `listen = ["127.0.0.1:0"]
policy = "no-such-policy"
assume-synced = true
`)
	_, summary, _ = serveInProcess(t, "--config", conf, "--policy", "quadratic-17h")
	if summary["policy"] != "quadratic-17h" {
		t.Errorf("policy %v", summary["policy"])
	}
}

// TestServeConfigErrors: a config file that cannot be used is a one-line
// usage error (exit 2) naming the file, the line and the key.
func TestServeConfigErrors(t *testing.T) {
	for _, c := range []struct {
		text string
		want string
	}{
		{`colour = "blue"`, "line 1: colour: unknown option"},
		{`config = "other.toml"`, "line 1: config: unknown option"},
		{`stratum = [1, 2]`, "line 1: stratum: takes one value, not a list"},
		{`listen = "127.0.0.1:0"` + "\n" + `policy = `, "line 2: "},
		{`listen = ["127.0.0.1:0"]` + "\n" + `policy = "bogus"`, `line 2: policy: policy "bogus"`},
		{`listen = ["127.0.0.1:0"]` + "\n" + `stratum = 99`, "line 2: stratum 99: want 1 to 15"},
		{`listen = ["127.0.0.1:0"]` + "\n" + `rate-limit = 1` + "\n" + `rate-ipv6-prefix = 129`, "line 3: rate-ipv6-prefix 129: want 32 to 128"},
		{`listen = ["127.0.0.1:0"]` + "\n" + `rate-ipv6-prefix = 8`, "line 2: rate-ipv6-prefix 8: want 32 to 128"},
		{`listen = ["127.0.0.1:0"]` + "\n" + `rate-limit = 1` + "\n" + `rate-ipv6-prefix-share = 1`, "line 3: rate-ipv6-prefix-share 1: want 2 to 65536"},
		{`listen = ["127.0.0.1:0"]` + "\n" + `rate-ipv6-prefix-share = -1`, "line 2: rate-ipv6-prefix-share -1: want 2 to 65536"},
		{`listen = ["127.0.0.1:0"]` + "\n" + `rate-ipv6-prefix-share = nan`, "line 2: rate-ipv6-prefix-share"},
		{`listen = ["127.0.0.1:0"]` + "\n" + `rate-ipv6-prefix-share = inf`, "line 2: rate-ipv6-prefix-share"},
	} {
		conf := writeConfig(t, c.text)
		code, stderr := runBounded(t, "serve", "--config", conf)
		lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
		if code != 2 || len(lines) != 1 || !strings.Contains(lines[0], "config file "+conf+" "+c.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and one line containing %q", c.text, code, stderr, "config file "+conf+" "+c.want)
		}
	}
	// A config file named on the command line that is not there is a
	// mistake in the command line: exit 2, one line naming the file.
	missing := filepath.Join(t.TempDir(), "missing.toml")
	code, stderr := runBounded(t, "serve", "--config", missing)
	if lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n"); code != 2 || len(lines) != 1 || !strings.HasPrefix(lines[0], "leapsmear: --config "+missing+": no such file or directory") {
		t.Errorf("missing file: exit %d %q; want 2 and one line naming the file", code, stderr)
	}
}

// TestServeStartFailure: a port in use stops serve with exit 1 and one line
// naming the address (with logging quietened to errors, which the failure
// is not logged as: it is the command's result).
func TestServeStartFailure(t *testing.T) {
	addr, _, _ := serveInProcess(t, "--listen", "127.0.0.1:0", "--assume-synced")
	code, stderr := runBounded(t, "serve", "--listen", addr, "--log-level", "error")
	want := "leapsmear: listen " + addr + ": address already in use"
	if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr, want)
	}
}

// flagsFor returns serve's flags for listening on listen, with serve's
// default policy, clock, stratum and reference ID and nothing else set: a
// starting point for daemonConfig.
func flagsFor(listen ...string) serveFlags {
	return serveFlags{listen: listen, policy: "noon-to-noon", clock: "system", stratum: 2, refid: "LSMR"}
}

// limiterOf returns the rate limiter serve configures from f, failing the
// test (what names the case) when there is none.
func limiterOf(t *testing.T, what string, f serveFlags) *ratelimit.Limiter {
	t.Helper()
	cfg, err := f.daemonConfig(time.Now(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	l, ok := cfg.Limiter.(*ratelimit.Limiter)
	if !ok {
		t.Fatalf("%s: limiter %T", what, cfg.Limiter)
	}
	return l
}

// TestServeRateIPv6PrefixShare: --rate-ipv6-prefix-share reaches the rate
// limiter (0 means the default, 8): at --rate-burst 2, one address of a /64
// gets 2 answers at once and its neighbours the rest of the /64's 2*share.
// The flag's default is the library's, and the config file sets it.
func TestServeRateIPv6PrefixShare(t *testing.T) {
	for share, want := range map[int]int{0: ratelimit.DefaultPrefixShare, 2: 2, 3: 3, 8: 8, 100: 100} {
		f := flagsFor("127.0.0.1:0")
		f.rateLimit, f.rateBurst, f.kissInterval, f.ratePrefixShare = 0.125, 2, time.Second, share
		l := limiterOf(t, fmt.Sprintf("--rate-ipv6-prefix-share %d", share), f)
		if got := l.Config().IPv6PrefixShare; got != want {
			t.Errorf("--rate-ipv6-prefix-share %d: share %d, want %d", share, got, want)
		}
		one, others := 0, 0
		for i := range 1000 {
			if l.Allow(netip.MustParseAddr("2001:db8::1"), 0) == ratelimit.Answer {
				one++
			}
			other := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 12: 1, 14: byte(i >> 8), 15: byte(i)})
			if l.Allow(other, 0) == ratelimit.Answer {
				others++
			}
		}
		if one != 2 || others != 2*want-2 {
			t.Errorf("--rate-ipv6-prefix-share %d: one address got %d answers (want 2), its neighbours %d (want %d)", share, one, others, 2*want-2)
		}
	}

	cmd := newServeCmd()
	fl := cmd.Flags().Lookup("rate-ipv6-prefix-share")
	if fl == nil || fl.DefValue != strconv.Itoa(ratelimit.DefaultPrefixShare) {
		t.Fatalf("serve --rate-ipv6-prefix-share: %+v, want default %d", fl, ratelimit.DefaultPrefixShare)
	}
	if err := applyConfigFile(cmd, writeConfig(t, `rate-ipv6-prefix-share = 5`)); err != nil || fl.Value.String() != "5" {
		t.Errorf("config file rate-ipv6-prefix-share = 5: %v, flag %s", err, fl.Value)
	}
}

// TestServeRateIPv6Prefix: --rate-ipv6-prefix reaches the rate limiter (and
// 0 or no value means a /64).
func TestServeRateIPv6Prefix(t *testing.T) {
	a := netip.MustParseAddr("2001:db8:1:23ff::1")
	for bits, want := range map[int]string{0: "2001:db8:1:23ff::/64", 64: "2001:db8:1:23ff::/64", 56: "2001:db8:1:2300::/56", 128: "2001:db8:1:23ff::1/128"} {
		f := flagsFor("127.0.0.1:0")
		f.rateLimit, f.rateBurst, f.kissInterval, f.rateIPv6Prefix = 1, 8, time.Second, bits
		l := limiterOf(t, fmt.Sprintf("--rate-ipv6-prefix %d", bits), f)
		if got := l.Prefix(a); got.String() != want {
			t.Errorf("--rate-ipv6-prefix %d: %v is limited as %v, want %s", bits, a, got, want)
		}
	}
}
