package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/client"
	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/internal/testenv"
	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/leapcheck"
	"github.com/leapsmear/leapsmear/smear"
	"github.com/leapsmear/leapsmear/timescale"
)

// The instants the leap-source scenarios replay: the last day of 2027, after
// the built-in table expired (2027-06-28), and the last day of 2026, which
// the unexpired built-in table rules out.
const (
	lastDay2027  = "2027-12-31T12:00:00Z"
	leap2028     = "2028-01-01T00:00:00Z"
	lastDay2026  = "2026-12-31T12:00:00Z"
	leap2027     = "2027-01-01T00:00:00Z"
	tableExpires = "2027-06-28T00:00:00Z"
)

// leapFileWith2027 writes a tzdata leapseconds file: the built-in table's
// leaps plus an inserted second at the end of 2027-12-31, expiring
// 2028-06-28. Being newer than the built-in table, it is loaded unverified.
func leapFileWith2027(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, e := range leap.Default().Events {
		fmt.Fprintf(&b, "Leap\t%s\t23:59:60\t+\tS\n", e.Day().Format("2006\tJan\t02"))
	}
	b.WriteString("Leap\t2027\tDec\t31\t23:59:60\t+\tS\nExpires\t2028\tJun\t28\t00:00:00\n")
	path := filepath.Join(t.TempDir(), "leapseconds")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// upstream starts leapsmear serve in-process with its served clock at the
// instant at; with rehearse (INSTANT,+1) and the step policy it announces
// that leap with LI during its last day. It returns the address served.
func upstream(t *testing.T, at, rehearse string) string {
	t.Helper()
	args := []string{"--listen", "127.0.0.1:0", "--assume-synced", "--policy", "step", "--time-offset-to", at}
	if rehearse != "" {
		args = append(args, "--rehearse", rehearse)
	}
	addr, _, _ := serveInProcess(t, args...)
	return addr
}

// withKernel makes the kernel source read st instead of the host kernel.
func withKernel(t *testing.T, st timescale.KernelState) {
	t.Helper()
	old := readKernel
	readKernel = func() (timescale.KernelState, error) { return st, nil }
	t.Cleanup(func() { readKernel = old })
}

var (
	kernelQuiet    = timescale.KernelState{State: timescale.TimeOK}
	kernelArmedIns = timescale.KernelState{State: timescale.TimeIns, Status: timescale.StatusIns}
)

// leaps runs leapsmear leaps --json in-process and decodes its output.
func leaps(t *testing.T, args ...string) (int, leapcheck.Report, string) {
	t.Helper()
	code, out, errs := runCapture(append([]string{"leaps", "--json"}, args...)...)
	var j leapcheck.Report
	if code != 2 {
		if err := json.Unmarshal([]byte(out), &j); err != nil {
			t.Fatalf("leaps %v: exit %d, output not JSON: %v\n%s\n%s", args, code, err, out, errs)
		}
	}
	t.Logf("leaps %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	return code, j, errs
}

const ins2027 = "2027-12-31 +1 2028-01-01T00:00:00Z"

func hasProblem(j leapcheck.Report, part string) bool {
	return slices.ContainsFunc(j.Problems, func(p string) bool { return strings.Contains(p, part) })
}

// TestLeapsAgree: two upstreams rehearsing the leap at the end of 2027, a
// table that has it, a kernel armed for it: agree, exit 0.
func TestLeapsAgree(t *testing.T) {
	a, b := upstream(t, lastDay2027, leap2028+",+1"), upstream(t, lastDay2027, leap2028+",+1")
	withKernel(t, kernelArmedIns)
	file := leapFileWith2027(t)
	code, j, _ := leaps(t, "--leap-file", file, "--upstream", a, "--upstream", b, "--at", lastDay2027)
	if code != 0 || j.Verdict.String() != "agree" || j.Leap == nil || j.Leap.Date != "2027-12-31" || j.Leap.Sign != 1 || j.Leap.Effective != leap2028 {
		t.Fatalf("exit %d, %+v", code, j)
	}
	for _, name := range []string{file, "kernel", "ntp " + a, "ntp " + b} {
		if s, ok := j.Source(name); !ok || !s.OK || s.Announces.String() != ins2027 {
			t.Errorf("source %s: %+v", name, s)
		}
	}
	if j.Table.Source != file || j.Table.Expired || j.Table.Expires == nil || *j.Table.Expires != "2028-06-28T00:00:00Z" || len(j.Problems) != 0 {
		t.Errorf("table %+v, problems %q", j.Table, j.Problems)
	}
}

// TestLeapsUnknownLeap: the built-in table expired in June 2027; two
// upstreams announce the leap at the end of 2027: unknown-leap, exit 1, and
// the refresh command. Plain servers announce nothing.
func TestLeapsUnknownLeap(t *testing.T) {
	a, b := upstream(t, lastDay2027, leap2028+",+1"), upstream(t, lastDay2027, leap2028+",+1")
	plain := upstream(t, lastDay2027, "")
	withKernel(t, kernelQuiet)
	code, j, errs := leaps(t, "--upstream", a, "--upstream", b, "--upstream", plain, "--at", lastDay2027)
	if code != 1 || j.Verdict.String() != "unknown-leap" || j.Leap == nil || j.Leap.Date != "2027-12-31" || !j.Table.Expired {
		t.Fatalf("exit %d, %+v", code, j)
	}
	if !strings.Contains(errs, "leapsmear: verdict unknown-leap: unknown leap: ntp "+a+", ntp "+b+" announce") {
		t.Errorf("stderr %q", errs)
	}
	if s, ok := j.Source("ntp " + plain); !ok || !s.OK || s.Announces != nil {
		t.Errorf("plain server %+v", s)
	}
	if !hasProblem(j, "expired on "+tableExpires) || !hasProblem(j, "refresh it: curl -fsSLo /etc/leapsmear/leap-seconds.list.new") {
		t.Errorf("problems %q", j.Problems)
	}
}

// TestLeapsFaultySource: the unexpired built-in table has no leap at the
// end of 2026; one upstream jumps the gun and announces one: it is named,
// the two others are fine. Exit 1.
func TestLeapsFaultySource(t *testing.T) {
	bad := upstream(t, lastDay2026, leap2027+",+1")
	good1, good2 := upstream(t, lastDay2026, ""), upstream(t, lastDay2026, "")
	withKernel(t, kernelQuiet)
	code, j, errs := leaps(t, "--upstream", good1, "--upstream", bad, "--upstream", good2, "--at", lastDay2026)
	if code != 1 || j.Verdict.String() != "faulty-source" || j.Leap == nil || j.Leap.Date != "2026-12-31" || j.Table.Expired {
		t.Fatalf("exit %d, %+v", code, j)
	}
	if !strings.Contains(errs, "faulty source ntp "+bad+" announces an inserted leap second (+1) at the end of 2026-12-31") {
		t.Errorf("stderr %q", errs)
	}
	for _, g := range []string{good1, good2} {
		if s, ok := j.Source("ntp " + g); !ok || !s.OK || s.Announces != nil || hasProblem(j, g) {
			t.Errorf("good server %+v, problems %q", s, j.Problems)
		}
	}
	if s, ok := j.Source("ntp " + bad); !ok || !s.OK || s.Announces.String() != "2026-12-31 +1 2027-01-01T00:00:00Z" {
		t.Errorf("faulty server %+v", s)
	}
}

// TestLeapsKernelArmed: a kernel armed for a leap the table lacks (through
// an injected adjtimex reader): unknown-leap when the table has expired,
// faulty-source when it is in force; a kernel armed in the middle of a
// month is faulty whatever the table.
func TestLeapsKernelArmed(t *testing.T) {
	withKernel(t, kernelArmedIns)
	for _, c := range []struct {
		at, verdict, date string
		months            []string
	}{
		{lastDay2027, "unknown-leap", "2027-12-31", nil},
		{lastDay2026, "faulty-source", "2026-12-31", nil},
		{"2027-12-15T12:00:00Z", "faulty-source", "2027-12-15", []string{"--leap-months", "any"}},
		{"2027-11-30T12:00:00Z", "faulty-source", "2027-11-30", nil},
		{"2027-11-30T12:00:00Z", "unknown-leap", "2027-11-30", []string{"--leap-months", "nov,dec"}},
	} {
		code, j, _ := leaps(t, append([]string{"--at", c.at}, c.months...)...)
		if code != 1 || j.Verdict.String() != c.verdict || j.Leap == nil || j.Leap.Date != c.date {
			t.Errorf("at %s: exit %d, %+v; want %s on %s", c.at, code, j, c.verdict, c.date)
		}
		if s, ok := j.Source("kernel"); !ok || !s.OK || s.Kind != "kernel" || s.Announces == nil || s.Announces.Date != c.date {
			t.Errorf("at %s: kernel %+v", c.at, s)
		}
	}
}

// TestLeapsTableOnly: a table with the leap, nothing else announcing it:
// table-only and exit 0; on the last day an unarmed kernel is warned about.
func TestLeapsTableOnly(t *testing.T) {
	withKernel(t, kernelQuiet)
	file := leapFileWith2027(t)
	code, j, _ := leaps(t, "--leap-file", file, "--at", "2027-12-01T00:00:00Z")
	if code != 0 || j.Verdict.String() != "table-only" || len(j.Problems) != 0 {
		t.Errorf("before the last day: exit %d, %+v", code, j)
	}
	code, j, _ = leaps(t, "--leap-file", file, "--at", lastDay2027)
	if code != 0 || j.Verdict.String() != "table-only" || !hasProblem(j, "the host kernel is not armed") || !hasProblem(j, "served time is unaffected") {
		t.Errorf("last day: exit %d, %+v", code, j)
	}
}

// TestLeapsUnreachable: an upstream that does not answer is a source error,
// not a disagreement: the others are reported, verdict none, exit 1.
func TestLeapsUnreachable(t *testing.T) {
	withKernel(t, kernelQuiet)
	good := upstream(t, lastDay2026, "")
	closed := ntptest.ClosedPort(t)
	code, j, errs := leaps(t, "--upstream", good, "--upstream", closed, "--at", lastDay2026, "--source-timeout", "2s")
	if code != 1 || j.Verdict.String() != "none" || j.Leap != nil {
		t.Fatalf("exit %d, %+v", code, j)
	}
	s, ok := j.Source("ntp " + closed)
	if !ok || s.OK || s.Error == nil || !strings.Contains(*s.Error, "no answer") || s.Announces != nil {
		t.Errorf("unreachable %+v", s)
	}
	if g, ok := j.Source("ntp " + good); !ok || !g.OK || g.Error != nil {
		t.Errorf("good %+v", g)
	}
	if !strings.Contains(errs, "1 source(s) could not be read: ntp "+closed) {
		t.Errorf("stderr %q", errs)
	}
}

// TestLeapsChronyd: a real chronyd -x (believing it is 2027-12-31, under
// libfaketime; the host clock is untouched) follows an upstream rehearsing
// the leap at the end of 2027; read through its command socket it
// announces that leap, which the table with it agrees with.
func TestLeapsChronyd(t *testing.T) {
	withKernel(t, kernelQuiet)
	up := upstream(t, lastDay2027, leap2028+",+1")
	socket := testenv.Chronyd{Upstream: up, FakeTime: mustTime(lastDay2027)}.Start(t)
	file := leapFileWith2027(t)
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, j, _ := leaps(t, "--leap-file", file, "--chrony-socket", socket, "--kernel=false", "--at", lastDay2027)
		s, ok := j.Source("chrony " + socket)
		if code == 0 && j.Verdict == leapcheck.Agree && ok && s.OK && s.Kind == "chrony" && s.Announces.String() == ins2027 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("chronyd did not announce the leap within 20 s: exit %d, %+v", code, j)
		}
		time.Sleep(250 * time.Millisecond)
	}
	// The built-in table, expired, does not have it: unknown-leap.
	code, j, _ := leaps(t, "--chrony-socket", socket, "--kernel=false", "--at", lastDay2027)
	if code != 1 || j.Verdict.String() != "unknown-leap" {
		t.Errorf("built-in table: exit %d, %+v", code, j)
	}
}

func mustTime(s string) time.Time {
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return at
}

// TestLeapsJSONSchema: the keys of the JSON output are exactly those of the
// contract.
func TestLeapsJSONSchema(t *testing.T) {
	withKernel(t, kernelArmedIns)
	_, out, _ := runCapture("leaps", "--json", "--at", lastDay2027)
	var top map[string]any
	if err := json.Unmarshal([]byte(out), &top); err != nil {
		t.Fatal(err)
	}
	keys := func(m any) string {
		var ks []string
		for k := range m.(map[string]any) {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return strings.Join(ks, " ")
	}
	if got := keys(top); got != "at leap problems sources table verdict" {
		t.Errorf("top-level keys %q", got)
	}
	if got := keys(top["table"]); got != "expired expires source" {
		t.Errorf("table keys %q", got)
	}
	for _, s := range top["sources"].([]any) {
		if got := keys(s); got != "announces error kind name ok" {
			t.Errorf("source keys %q", got)
		}
	}
	if got := keys(top["leap"]); got != "date effective sign" {
		t.Errorf("leap keys %q", got)
	}
	if !strings.Contains(out, `"effective": "2028-01-01T00:00:00Z"`) || strings.Contains(out, `\u0026`) {
		t.Errorf("output:\n%s", out)
	}
}

func TestLeapsUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--at", "yesterday"}, "--at"},
		{[]string{"--leap-months", "brumaire"}, "--leap-months"},
		{[]string{"--upstream", ""}, "--upstream"},
		{[]string{"--source-timeout", "0s"}, "--source-timeout"},
		{[]string{"extra"}, "takes no arguments"},
	} {
		code, _, errs := runCapture(append([]string{"leaps"}, c.args...)...)
		if code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, %q", c.args, code, errs)
		}
	}
	if code, _, errs := runCapture("leaps", "--leap-file", "/nonexistent"); code != 1 || !strings.Contains(errs, "/nonexistent") {
		t.Errorf("missing leap file: exit %d, %q", code, errs)
	}
}

// shiftOfLogs returns the TAI shift that leapsmear serve logged at start
// (time_shift_tai, with every digit).
func shiftOfLogs(t *testing.T, logs *testenv.Buffer) leap.TAI {
	t.Helper()
	for _, rec := range testenv.Records(t, logs.String()) {
		if rec["msg"] == "serving" {
			n, err := rec["time_shift_tai"].(json.Number).Int64()
			if err != nil {
				t.Fatalf("time_shift_tai: %v", err)
			}
			return leap.TAI(n)
		}
	}
	t.Fatal("no start-up summary")
	return 0
}

// waitForLog waits up to d for a log record whose message contains msg.
func waitForLog(t *testing.T, logs *testenv.Buffer, msg string, d time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		for _, rec := range testenv.Records(t, logs.String()) {
			if m, _ := rec["msg"].(string); strings.Contains(m, msg) {
				return rec
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log %q within %s:\n%s", msg, d, logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServeAdoptsAnnouncedLeap: two upstreams rehearse the leap at the end
// of 2027, after the built-in table expired; a server replaying the same
// minute with --adopt-announced-leaps 2 adopts it before its window opens
// and serves exactly the policy's smear of it, while a server that needs 3
// sources adopts nothing and keeps serving true UTC of its table.
func TestServeAdoptsAnnouncedLeap(t *testing.T) {
	const start, policy = "2027-12-31T23:59:40Z", "linear:-10s:21s" // the window opens at 23:59:50
	a, b := upstream(t, start, leap2028+",+1"), upstream(t, start, leap2028+",+1")
	common := []string{"--listen", "127.0.0.1:0", "--assume-synced", "--policy", policy, "--time-offset-to", start,
		"--upstream", a, "--upstream", b, "--kernel=false", "--leap-check-last-day", "200ms"}
	adopter, _, adoptLogs := serveInProcess(t, append(common, "--adopt-announced-leaps", "2")...)
	holder, _, holdLogs := serveInProcess(t, append(common, "--adopt-announced-leaps", "3")...)

	rec := waitForLog(t, adoptLogs, "adopted an announced leap second", 8*time.Second)
	if rec["leap"] != "2027-12-31 +1" || rec["window_opens"] != "2027-12-31T23:59:50Z" {
		t.Errorf("adoption log %v", rec)
	}
	waitForLog(t, holdLogs, "a leap second the table does not have is announced", 8*time.Second)

	adoptedTable, err := leap.Default().WithAdopted(mustTime(leap2028), 1)
	if err != nil {
		t.Fatal(err)
	}
	want, plain := ntptest.Smear(t, adoptedTable, policy), ntptest.Smear(t, leap.Default(), policy)
	host := leap.Default() // maps this host's clock (2026) to TAI
	check := func(addr string, logs *testenv.Buffer, s *smear.Smear) (time.Duration, leap.TAI) {
		t.Helper()
		shift := shiftOfLogs(t, logs)
		resp, err := client.Query(context.Background(), addr, client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		mid := resp.T1.Add(resp.T4.Sub(resp.T1) / 2)
		x := host.TAIFromUnix(leap.UTCFromTime(mid)) + shift
		wantOffset := time.Duration(s.Served(x).UnixNano() - mid.UnixNano())
		if !ntptest.OffsetWithin(resp.Offset, wantOffset, resp.Delay) {
			t.Errorf("%s at %s: offset %s, want %s (delay %s)", addr, adoptedTable.LabelFromTAI(x), resp.Offset, wantOffset, resp.Delay)
		}
		return s.Offset(x), x
	}
	// Query through the window until past its middle (the new midnight):
	// the served clock is behind true UTC before it and ahead after it,
	// since true UTC repeats a second there.
	var lo, hi time.Duration
	for {
		off, x := check(adopter, adoptLogs, want)
		check(holder, holdLogs, plain)
		lo, hi = min(lo, off), max(hi, off)
		if x > want.Windows()[len(want.Windows())-1].Start+leap.TAI(11*time.Second) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if lo > -100*time.Millisecond || hi < 100*time.Millisecond {
		t.Errorf("adopter's smear offsets from %s to %s, want through about -0.5 s to +0.5 s", lo, hi)
	}
	if strings.Contains(holdLogs.String(), "adopted an announced") {
		t.Error("the server needing 3 sources adopted the leap")
	}
}
