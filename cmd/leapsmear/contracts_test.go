package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/client"
	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/internal/testenv"
	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/timescale"
)

// Tests of the promises of issue 15 (a user's first hour), each through the
// command line.

// kernelUnsynced is a host clock that adjtimex says is not synchronised.
var kernelUnsynced = timescale.KernelState{State: timescale.TimeError, Status: timescale.StatusUnsync}

// oneErrorLine fails the test unless the command exited 2 with nothing on
// standard output and one line on standard error containing every want.
func oneErrorLine(t *testing.T, args []string, code int, stdout, stderr string, want ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if code != 2 || stdout != "" || len(lines) != 1 || !strings.HasPrefix(lines[0], "leapsmear: ") {
		t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 and one line", args, code, stdout, stderr)
		return
	}
	for _, w := range want {
		if !strings.Contains(lines[0], w) {
			t.Errorf("%v: %q does not say %q", args, lines[0], w)
		}
	}
}

// TestInstantsOutOfRange: offset and table refuse an instant outside what
// the leap table and the integer time scale represent (the year 9999 was
// served as a time in 1816), with one line naming --at, exit 2.
func TestInstantsOutOfRange(t *testing.T) {
	for _, args := range [][]string{
		{"offset", "--policy", "step", "--leap", "2016-12-31", "--at", "9999-12-31T23:59:59Z"},
		{"offset", "--policy", "noon-to-noon", "--leap", "2016-12-31", "--at", "2016-12-31T12:00:00Z", "--at", "9999-12-31T23:59:59Z"},
		{"offset", "--policy", "step", "--leap", "2016-12-31", "--at", "1900-01-01T00:00:00Z"},
		{"table", "--at", "9999-12-31T23:59:59Z"},
		{"table", "--json", "--at", "9999-12-31T23:59:59Z"},
		{"table", "--at", "1900-01-01T00:00:00Z"},
	} {
		code, stdout, stderr := runCapture(args...)
		oneErrorLine(t, args, code, stdout, stderr, "--at", "outside 1972-01-01..2200-01-01")
		if at := args[len(args)-1]; strings.Count(stderr, at) != 1 {
			t.Errorf("%v: %q names %s other than once", args, stderr, at)
		}
	}
}

// TestTableAtSecond60: table --at takes second 60 only where the table
// inserts one, as offset does: 2017-06-30 ended without a leap.
func TestTableAtSecond60(t *testing.T) {
	for _, at := range []string{"2017-06-30T23:59:60Z", "2017-06-30T23:59:60.5Z", "2016-06-30T23:59:60Z"} {
		args := []string{"table", "--at", at}
		code, stdout, stderr := runCapture(args...)
		oneErrorLine(t, args, code, stdout, stderr, "--at", at, "inserts no second there")
	}
	// Where it inserts one, the instant is taken: the leap is still to come.
	code, out, stderr := runCapture("table", "--json", "--at", "2016-12-31T23:59:60Z")
	if m := decodeTable(t, out); code != 0 || stderr != "" || m["next"].(map[string]any)["effective"] != "2017-01-01T00:00:00Z" {
		t.Errorf("the 2016 leap second: exit %d, %q, next %v", code, stderr, m["next"])
	}
}

// TestServeRehearsalInsideItsWindow: a rehearsal two minutes ahead under a
// 24 h smear starts half-way into its own window: serve refuses it with one
// line naming the offset clients would see and the flag that allows it;
// with --allow-jump it serves that offset.
func TestServeRehearsalInsideItsWindow(t *testing.T) {
	at := time.Now().Add(2 * time.Minute).Truncate(time.Second).UTC()
	rehearse := at.Format(time.RFC3339) + ",+1"
	args := []string{"serve", "--listen", "127.0.0.1:0", "--rehearse", rehearse, "--policy", "noon-to-noon", "--assume-synced"}
	code, stderr := runBounded(t, args...)
	oneErrorLine(t, args, code, "", stderr, "--rehearse "+rehearse, "starts inside its own smear window",
		"clients would see the served time jump by -49", "(--allow-jump)")
	if m := regexp.MustCompile(`jump by (-[0-9.]+ms) at start`).FindStringSubmatch(stderr); m == nil {
		t.Errorf("no offset in %q", stderr)
	}
	// Those words were "allow the jump (allow-jump)": a flag that no one
	// can type.
	if strings.Contains(stderr, "(allow-jump)") {
		t.Errorf("%q names the flag without its dashes", stderr)
	}

	addr, _, _ := serveInProcess(t, append(args[1:], "--allow-jump")...)
	table, err := leap.Default().WithRehearsal(at, 1)
	if err != nil {
		t.Fatal(err)
	}
	s := ntptest.Smear(t, table, "noon-to-noon")
	resp, err := client.Query(context.Background(), addr, client.Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	mid := resp.T1.Add(resp.T4.Sub(resp.T1) / 2)
	want := s.Offset(table.TAIFromUnix(leap.UTCFromTime(mid)))
	if want > -490*time.Millisecond || !ntptest.OffsetWithin(resp.Offset, want, resp.Delay) {
		t.Errorf("allowed: offset %v, want %v (delay %v)", resp.Offset, want, resp.Delay)
	}
}

// TestServeUnsynchronisedLogs: on a host whose clock is not synchronised,
// the start-up summary says the stratum clients get (16), and the warning
// is logged once, after it; when synchronisation is assumed, the summary
// says the configured stratum, and that it is assumed is logged once, as
// information. The host's state is injected: whatever this host's clock is.
func TestServeUnsynchronisedLogs(t *testing.T) {
	withKernel(t, kernelUnsynced)
	for _, c := range []struct {
		name    string
		args    []string
		stratum uint8
		level   string
	}{
		{"unsynchronised", nil, 16, "WARN"},
		{"assumed", []string{"--assume-synced"}, 2, "INFO"},
	} {
		t.Run(c.name, func(t *testing.T) {
			addr, summary, logs := serveInProcess(t, append([]string{"--listen", "127.0.0.1:0", "--stratum", "2"}, c.args...)...)
			// An answer comes once the server runs: after Start has logged
			// all it logs at start.
			resp, err := client.Query(context.Background(), addr, client.Options{Timeout: 2 * time.Second})
			if err != nil && !errors.Is(err, client.ErrUnsynchronised) {
				t.Fatal(err)
			}
			if summary["stratum"] != float64(c.stratum) || resp.Header.Stratum != c.stratum {
				t.Errorf("serving stratum=%v, clients got stratum %d; want %d", summary["stratum"], resp.Header.Stratum, c.stratum)
			}
			served, warned := -1, 0
			for i, rec := range testenv.Records(t, logs.String()) {
				switch msg := rec["msg"].(string); {
				case msg == "serving":
					served = i
				case strings.Contains(msg, "host clock not synchronised"):
					warned++
					if served < 0 {
						t.Errorf("warned before the start-up summary:\n%s", logs)
					}
					if rec["level"] != c.level {
						t.Errorf("%q at level %v, want %s", msg, rec["level"], c.level)
					}
				}
			}
			if warned != 1 {
				t.Errorf("%d sync warnings, want 1:\n%s", warned, logs)
			}
		})
	}
}

// TestServeUnsynchronisedFailedBind: a server that cannot bind its port
// says only that, not first that the host clock is not synchronised: the
// warning belongs to a server that serves.
func TestServeUnsynchronisedFailedBind(t *testing.T) {
	withKernel(t, kernelUnsynced)
	busy, _, _ := serveInProcess(t, "--listen", "127.0.0.1:0")
	for _, format := range []string{"text", "json"} {
		args := []string{"serve", "--listen", busy, "--log-format", format}
		code, stderr := runBounded(t, args...)
		want := "leapsmear: listen " + busy + ": address already in use"
		if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, want) || strings.Contains(stderr, "synchronised") {
			t.Errorf("%v: exit %d, stderr %q; want 1 and only %q", args, code, stderr, want)
		}
	}
}

// TestWatchSVGReplaying: the chart of a watch of a server replaying 2016
// next to one serving now draws the replaying one, in the relative panel,
// less its first difference (stated in the title), so that its tick labels
// are small numbers, not the 3e11 ms between the two clocks.
func TestWatchSVGReplaying(t *testing.T) {
	now, _, _ := serveInProcess(t, "--listen", "127.0.0.1:0", "--assume-synced")
	replay, _, _ := serveInProcess(t, "--listen", "127.0.0.1:0", "--assume-synced", "--time-offset-to", "2016-12-31T18:00:00Z")
	svgFile := filepath.Join(t.TempDir(), "w.svg")
	code, _, stderr := runCapture("watch", now, replay, "--for", "1500ms", "--every", "100ms", "--svg", svgFile)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	data, err := os.ReadFile(svgFile)
	if err != nil {
		t.Fatal(err)
	}
	svg := string(data)
	if !regexp.MustCompile(regexp.QuoteMeta(replay) + ` drawn less its first difference, -3[0-9]{8}\.[0-9]{3} s`).MatchString(svg) {
		t.Errorf("the SVG does not say the replaying server is drawn less its first difference")
	}
	// The text of the SVG: every number drawn is under a million (a tick
	// label, a time of day), but the years apart stated in the title.
	for _, m := range regexp.MustCompile(`>([^<]*)<`).FindAllStringSubmatch(svg, -1) {
		for _, n := range regexp.MustCompile(`[0-9]{7,}`).FindAllString(m[1], -1) {
			if !strings.Contains(m[1], "first difference") {
				t.Errorf("the SVG draws %q (in %q)", n, m[1])
			}
		}
	}
}
