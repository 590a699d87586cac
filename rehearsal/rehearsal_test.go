// Package rehearsal rehearses a leap second end to end: leapsmear servers in
// network namespaces of their own, each serving a rehearsed leap with its
// policy, and a watcher in another namespace that must tell what each did.
//
// It takes about three minutes, so it runs only when LEAPSMEAR_REHEARSAL=1
// (.ci/rehearsal sets it), as root (it creates network namespaces; without
// the permission it skips, or fails when LEAPSMEAR_REQUIRE_INTEROP=1). With
// LEAPSMEAR_REHEARSAL_OUT=DIR the watcher's charts, CSV and JSON are kept in
// DIR (docs/img/rehearsal.svg comes from there).
package rehearsal

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/internal/testenv"
	"github.com/leapsmear/leapsmear/watch"
	"github.com/leapsmear/leapsmear/watch/report"
)

// Environment variables of the rehearsal.
const (
	enableVar = "LEAPSMEAR_REHEARSAL"
	outVar    = "LEAPSMEAR_REHEARSAL_OUT"
)

// every is the watcher's poll interval: servers x rounds stay in the
// hundreds of requests per server.
const every = 250 * time.Millisecond

// host is one namespace on the hub's bridge, with its address.
type host struct {
	ns, addr string
}

// network is a hub namespace with a bridge and hosts plugged into it by
// veth pairs, 10.77.0.0/24; everything is removed when the test ends.
type network struct {
	t      *testing.T
	prefix string
	hub    string
	hosts  []host
}

func ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// newNetwork creates the hub and n hosts (10.77.0.1 to .n), plus the
// watcher's host at 10.77.0.100 as the last one.
func newNetwork(t *testing.T, n int) *network {
	testenv.Program(t, "ip", "iproute2")
	prefix := fmt.Sprintf("lsr%d", os.Getpid())
	probe := prefix + "-probe"
	out, err := exec.Command("ip", "netns", "add", probe).CombinedOutput()
	testenv.Need(t, err == nil, fmt.Sprintf("cannot create network namespaces (ip netns add: %v: %s); run as root",
		err, strings.TrimSpace(string(out))))
	ip(t, "netns", "del", probe)

	nw := &network{t: t, prefix: prefix, hub: prefix + "-hub"}
	t.Cleanup(nw.remove)
	ip(t, "netns", "add", nw.hub)
	ip(t, "-n", nw.hub, "link", "add", "br0", "type", "bridge")
	ip(t, "-n", nw.hub, "link", "set", "br0", "up")
	for i := 1; i <= n+1; i++ {
		h := host{ns: fmt.Sprintf("%s-s%d", prefix, i), addr: fmt.Sprintf("10.77.0.%d", i)}
		if i == n+1 {
			h = host{ns: prefix + "-watcher", addr: "10.77.0.100"}
		}
		nw.hosts = append(nw.hosts, h)
		port := fmt.Sprintf("v%d", i)
		ip(t, "netns", "add", h.ns)
		ip(t, "-n", nw.hub, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", h.ns)
		ip(t, "-n", nw.hub, "link", "set", port, "master", "br0", "up")
		ip(t, "-n", h.ns, "addr", "add", h.addr+"/24", "dev", "eth0")
		ip(t, "-n", h.ns, "link", "set", "eth0", "up")
		ip(t, "-n", h.ns, "link", "set", "lo", "up")
	}
	return nw
}

// remove deletes every namespace of the network (their veths go with them).
func (nw *network) remove() {
	for _, h := range nw.hosts {
		if out, err := exec.Command("ip", "netns", "del", h.ns).CombinedOutput(); err != nil {
			nw.t.Errorf("cleanup: ip netns del %s: %v: %s", h.ns, err, out)
		}
	}
	if out, err := exec.Command("ip", "netns", "del", nw.hub).CombinedOutput(); err != nil {
		nw.t.Errorf("cleanup: ip netns del %s: %v: %s", nw.hub, err, out)
	}
}

func (nw *network) watcher() host { return nw.hosts[len(nw.hosts)-1] }

// buildLeapsmear builds the command once per test binary.
var buildLeapsmear = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "leapsmear-rehearsal-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "leapsmear")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/leapsmear/leapsmear/cmd/leapsmear").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v: %s", err, out)
	}
	return bin, nil
})

// server is one leapsmear serve process in a namespace.
type server struct {
	host   host
	policy string
	cmd    *exec.Cmd
	log    bytes.Buffer
}

// serve starts leapsmear serve in the host's namespace, stopped when the
// test ends.
func serve(t *testing.T, bin string, h host, policy, rehearse string) *server {
	s := &server{host: h, policy: policy}
	s.cmd = exec.Command("ip", "netns", "exec", h.ns, bin, "serve", "--listen", h.addr+":123",
		"--assume-synced", "--policy", policy, "--rehearse", rehearse)
	s.cmd.Stdout, s.cmd.Stderr = &s.log, &s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start server %s: %v", h.addr, err)
	}
	t.Cleanup(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = s.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("server %s (%s) log:\n%s", h.addr, policy, s.log.String())
		}
	})
	return s
}

// waitAnswers polls the servers from the watcher's namespace until each has
// answered once, for at most ten seconds.
func waitAnswers(t *testing.T, bin string, w host, servers []*server) {
	t.Helper()
	// The servers smear differently on purpose: not one client's sources.
	args := []string{"netns", "exec", w.ns, bin, "query", "--timeout", "300ms", "--allow-mixed"}
	for _, s := range servers {
		args = append(args, s.host.addr)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("servers not answering after 10 s: %v: %s", err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// runWatch runs leapsmear watch in the watcher's namespace and returns its
// summary, keeping the chart, CSV and JSON in out as name.*.
func runWatch(t *testing.T, bin string, w host, servers []*server, d time.Duration, leapAt time.Time, out, name string) report.JSON {
	t.Helper()
	args := []string{"netns", "exec", w.ns, bin, "watch", "--for", d.String(), "--every", every.String(),
		"--leap", leapAt.Format(time.RFC3339), "--json",
		"--svg", filepath.Join(out, name+".svg"), "--csv", filepath.Join(out, name+".csv")}
	for _, s := range servers {
		args = append(args, s.host.addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d+time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "ip", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("leapsmear watch: %v\nstderr: %s\nstdout: %s", err, stderr.String(), stdout.String())
	}
	t.Logf("watch %s took %v", name, time.Since(start).Round(time.Millisecond))
	if err := os.WriteFile(filepath.Join(out, name+".json"), stdout.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var sum report.JSON
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		t.Fatalf("watch --json: %v: %s", err, stdout.String())
	}
	t.Logf("%s summary:\n%s", name, stdout.String())
	return sum
}

// outDir is where the watcher's files go.
func outDir(t *testing.T) string {
	if d := os.Getenv(outVar); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

func parseTime(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("time %q: %v", s, err)
	}
	return at
}

// ns renders a nanosecond value of the JSON, which is null when it was not
// measured.
func ns(p *int64) string {
	if p == nil {
		return "null"
	}
	return strconv.FormatInt(*p, 10)
}

func near(a, b time.Time, tol time.Duration) bool { d := a.Sub(b); return d <= tol && d >= -tol }

// TestRehearsal runs the two rehearsals on one network of four server
// namespaces and a watcher's.
func TestRehearsal(t *testing.T) {
	if os.Getenv(enableVar) != "1" {
		t.Skipf("skipped: the rehearsal takes about three minutes; set %s=1 to run it (.ci/rehearsal does)", enableVar)
	}
	begin := time.Now()
	nw := newNetwork(t, 4)
	bin, err := buildLeapsmear()
	if err != nil {
		t.Fatal(err)
	}
	out := outDir(t)
	t.Logf("network %s ready and leapsmear built in %v; output in %s", nw.prefix, time.Since(begin).Round(time.Millisecond), out)

	t.Run("policies", func(t *testing.T) { rehearsePolicies(t, nw, bin, out) })
	t.Run("fleet", func(t *testing.T) { rehearseFleet(t, nw, bin, out) })
	t.Logf("rehearsal took %v", time.Since(begin).Round(time.Second))
}

// rehearsePolicies: three servers insert a leap second 40 s from now with
// the step policy, a linear smear (noon-to-noon shortened to a minute, half
// before the leap and half after) and a quadratic one (a minute from the
// leap, like quadratic-17h); a fourth deletes one with a cosine smear. The
// watcher must tell each apart and measure +1 s (or -1 s).
func rehearsePolicies(t *testing.T, nw *network, bin, out string) {
	leapAt := time.Now().Truncate(time.Second).Add(40 * time.Second)
	plan := []struct {
		policy string
		sign   int
		class  watch.Class
		shape  string
		want   string // the policy as the watcher names it
	}{
		{"step", 1, watch.ClassStep, "step", "step"},
		{"linear:-30s:1m", 1, watch.ClassSmear, "linear", "linear:-30s:1m0s"},
		{"quadratic:0s:1m", 1, watch.ClassSmear, "quadratic", "quadratic:0s:1m0s"},
		{"cosine:-30s:1m", -1, watch.ClassSmear, "cosine", "cosine:-30s:1m0s"},
	}
	var servers []*server
	for i, p := range plan {
		servers = append(servers, serve(t, bin, nw.hosts[i], p.policy, fmt.Sprintf("%s,%+d", leapAt.Format(time.RFC3339), p.sign)))
	}
	waitAnswers(t, bin, nw.watcher(), servers)
	// The last window ends a minute after the leap; 10 s more of flat offsets.
	d := time.Until(leapAt.Add(70 * time.Second)).Round(time.Second)
	sum := runWatch(t, bin, nw.watcher(), servers, d, leapAt, out, "rehearsal")

	if len(sum.Servers) != len(plan) {
		t.Fatalf("%d servers in the summary, want %d", len(sum.Servers), len(plan))
	}
	// Each declared its policy (the declaration last seen: after the
	// window, without a next leap), and the watcher says they must not be
	// one client's sources.
	if sum.Mixed == nil {
		t.Error("watch did not see that the servers mix smears")
	}
	for i, p := range plan {
		s := sum.Servers[i]
		if s.SmearPolicy == nil || s.SmearPolicy.Policy != p.policy || s.DeclaresSmear != map[bool]string{true: "no", false: "yes"}[p.policy == "step"] {
			t.Errorf("%s (%s): declared %s %+v", s.Server, p.policy, s.DeclaresSmear, s.SmearPolicy)
		}
		if s.Class != string(p.class) || s.Shape != p.shape || s.Policy != p.want || !s.Complete {
			t.Errorf("%s (%s %+d): class %s shape %q policy %q complete %v, want %s %q %q",
				s.Server, p.policy, p.sign, s.Class, s.Shape, s.Policy, s.Complete, p.class, p.shape, p.want)
		}
		if want := int64(p.sign) * 1e9; s.TotalOffsetNs == nil || math.Abs(float64(*s.TotalOffsetNs-want)) > 1e6 {
			t.Errorf("%s (%s %+d): total offset %s ns, want %d within 1 ms", s.Server, p.policy, p.sign, ns(s.TotalOffsetNs), want)
		}
		if lost := s.Lost; lost*50 > s.Answered {
			t.Errorf("%s: %d of %d requests lost", s.Server, lost, s.Answered+lost)
		}
		start, end := parseTime(t, s.WindowStart), parseTime(t, s.WindowEnd)
		if p.class == watch.ClassStep {
			if start.After(leapAt) || end.Before(leapAt) || end.Sub(start) > 2*every {
				t.Errorf("%s: step between %v and %v, want around %v", s.Server, start, end, leapAt)
			}
			if !slices.Contains(s.LeapIndicators, 1) {
				t.Errorf("%s: a stepping server announces the leap; leap indicators seen %v", s.Server, s.LeapIndicators)
			}
			continue
		}
		if slices.ContainsFunc(s.LeapIndicators, func(li int) bool { return li != 0 }) {
			t.Errorf("%s: a smearing server never announces the leap; leap indicators seen %v", s.Server, s.LeapIndicators)
		}
		// The window as served, on the watcher's clock.
		var wantStart time.Time
		switch p.policy {
		case "linear:-30s:1m", "cosine:-30s:1m":
			wantStart = leapAt.Add(-30 * time.Second)
		default:
			wantStart = leapAt
		}
		if !near(start, wantStart, 50*time.Millisecond) || !near(end, wantStart.Add(time.Minute), 50*time.Millisecond) {
			t.Errorf("%s: window %v to %v, want %v to %v", s.Server, start, end, wantStart, wantStart.Add(time.Minute))
		}
		rate := map[string]float64{"linear": 1e6 / 60, "cosine": math.Pi / 2 * 1e6 / 60, "quadratic": 2e6 / 60}[p.shape]
		if s.MaxRatePPM == nil {
			t.Errorf("%s: max rate null, want %.1f ppm", s.Server, rate)
		} else if math.Abs(*s.MaxRatePPM-rate) > 0.05*rate {
			t.Errorf("%s: max rate %.1f ppm, want %.1f", s.Server, *s.MaxRatePPM, rate)
		}
	}
	// After every window the three that inserted a second are 2 s apart from
	// the one that deleted one.
	if sum.SpreadNs == nil {
		t.Errorf("no fleet spread: no round compared two servers")
	} else if d := time.Duration(*sum.SpreadNs) - 2*time.Second; d > time.Millisecond || d < -time.Millisecond {
		t.Errorf("fleet spread %v, want 2 s (+1 s against -1 s)", time.Duration(*sum.SpreadNs))
	}
}

// rehearseFleet: four servers with the same policy (a one-minute quadratic
// smear, the steepest shape) must stay within 100 us of each other through
// the whole window, as the watcher measures them.
func rehearseFleet(t *testing.T, nw *network, bin, out string) {
	const policy = "quadratic:-30s:1m"
	leapAt := time.Now().Truncate(time.Second).Add(35 * time.Second)
	var servers []*server
	for i := range 4 {
		servers = append(servers, serve(t, bin, nw.hosts[i], policy, leapAt.Format(time.RFC3339)+",+1"))
	}
	waitAnswers(t, bin, nw.watcher(), servers)
	d := time.Until(leapAt.Add(40 * time.Second)).Round(time.Second)
	sum := runWatch(t, bin, nw.watcher(), servers, d, leapAt, out, "fleet")
	if sum.Mixed != nil {
		t.Errorf("one policy, and watch says: %s", *sum.Mixed)
	}
	for _, s := range sum.Servers {
		if s.Class != "smear" || s.Policy != "quadratic:-30s:1m0s" || s.TotalOffsetNs == nil || math.Abs(float64(*s.TotalOffsetNs-1e9)) > 1e6 {
			t.Errorf("%s: %s %q total %s ns, want smear quadratic:-30s:1m0s +1e9", s.Server, s.Class, s.Policy, ns(s.TotalOffsetNs))
		}
	}
	if sum.SpreadRounds < sum.Rounds*9/10 {
		t.Errorf("only %d of %d rounds compared two servers or more", sum.SpreadRounds, sum.Rounds)
	}
	if sum.SpreadNs == nil || *sum.SpreadNs >= 100_000 {
		t.Errorf("fleet spread %s ns between %v at %s: want under 100 us", ns(sum.SpreadNs), sum.SpreadBetween, sum.SpreadAt)
	}
	t.Logf("fleet spread %s ns over %d of %d rounds", ns(sum.SpreadNs), sum.SpreadRounds, sum.Rounds)
}
