package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/internal/ntptest"
)

func TestWatchUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"watch", "--for", "1s"}, "name at least one server"},
		{[]string{"watch", "127.0.0.1"}, "--for D is required"},
		{[]string{"watch", "127.0.0.1", "--for", "1s", "--every", "10ms"}, "shorter than 100ms"},
		{[]string{"watch", "127.0.0.1", "--for", "100h"}, "longer than 80h"},
		{[]string{"watch", "127.0.0.1", "--for", "1s", "--leap", "tomorrow"}, "--leap"},
		{[]string{"watch", "127.0.0.1", "--for", "1s", "--version", "5"}, "--version 5"},
		{[]string{"watch", "127.0.0.1", "--for", "1s", "--noise", "0s"}, "--noise"},
		{[]string{"watch", "127.0.0.1", "--for", "1s", "--every", "soon"}, `--every "soon": want a duration`},
		{[]string{"watch", "a", "b", "c", "--for", "80h", "--every", "100ms"}, "requests"},
	} {
		code, stdout, stderr := runCapture(c.args...)
		if code != 2 || stdout != "" || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and one line with %q", c.args, code, stdout, stderr, c.want)
		}
	}
}

func TestParseLeapInstant(t *testing.T) {
	for in, want := range map[string]time.Time{
		"2016-12-31":                time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC),
		"2026-11-23T15:00:00Z":      time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC),
		"2026-11-23T16:00:00+01:00": time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC),
	} {
		if got, err := parseLeapInstant(in); err != nil || !got.Equal(want) {
			t.Errorf("%s: %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := parseLeapInstant("2016-12-32"); err == nil {
		t.Error("2016-12-32 accepted")
	}
}

func TestTableLeap(t *testing.T) {
	leap2016 := time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := tableLeap(leap2016.Add(-26*time.Hour), leap2016.Add(-25*time.Hour)); !got.Equal(leap2016) {
		t.Errorf("a watch the day before 2017: leap %v", got)
	}
	if got := tableLeap(leap2016.Add(30*24*time.Hour), leap2016.Add(31*24*time.Hour)); !got.IsZero() {
		t.Errorf("a watch a month after: leap %v", got)
	}
}

// TestWatchJSON watches two fake servers, one a quarter of a second ahead:
// neither changes, and the fleet spread is that quarter second. Thirty rounds,
// so that on a loaded machine, where the spread leaves out replies delayed
// beyond their server's margin, some round still compares both.
func TestWatchJSON(t *testing.T) {
	a := startResponder(t, "udp4", "127.0.0.1", 0, nil)
	b := startResponder(t, "udp4", "127.0.0.1", 250*time.Millisecond, nil)
	dir := t.TempDir()
	csvFile, svgFile := filepath.Join(dir, "w.csv"), filepath.Join(dir, "w.svg")
	code, stdout, stderr := runCapture("watch", a.Addr, b.Addr, "--for", "2900ms", "--every", "100ms", "--json", "--csv", csvFile, "--svg", svgFile)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "watching 2 server(s) every 100ms for 2.9s: at most 60 requests") {
		t.Errorf("stderr %q", stderr)
	}
	var out struct {
		Servers []struct {
			Server        string   `json:"server"`
			Class         string   `json:"class"`
			Shape         *string  `json:"shape"`
			TotalOffsetNs *int64   `json:"total_offset_ns"`
			MaxRatePPM    *float64 `json:"max_rate_ppm"`
			Answered      int      `json:"answered"`
		} `json:"servers"`
		SpreadNs     *int64 `json:"spread_ns"`
		SpreadRounds int    `json:"spread_rounds"`
		Rounds       int    `json:"rounds"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	if len(out.Servers) != 2 || out.SpreadNs == nil || out.Rounds != 30 {
		t.Fatalf("%s", stdout)
	}
	for i, s := range out.Servers {
		if s.Server != []string{a.Addr, b.Addr}[i] || s.Class != "none" || s.Shape == nil || s.TotalOffsetNs == nil || s.MaxRatePPM == nil || s.Answered != 30 {
			t.Errorf("server %d: %+v", i, s)
		}
	}
	if d := time.Duration(*out.SpreadNs) - 250*time.Millisecond; d < -2*time.Millisecond || d > 2*time.Millisecond {
		t.Errorf("spread %v over %d rounds, want 250ms", time.Duration(*out.SpreadNs), out.SpreadRounds)
	}
	if n := a.Requests(); n != 30 {
		t.Errorf("server a asked %d times, want 30", n)
	}
	csv, err := os.ReadFile(csvFile)
	if err != nil || strings.Count(string(csv), "\n") != 61 || !strings.HasPrefix(string(csv), "round,round_at,server,") {
		t.Errorf("CSV: %v\n%s", err, csv)
	}
	svg, err := os.ReadFile(svgFile)
	if err != nil || !strings.Contains(string(svg), "<svg") || !strings.Contains(string(svg), a.Addr+": none") {
		t.Errorf("SVG: %v, %d bytes", err, len(svg))
	}
}

func TestWatchText(t *testing.T) {
	a := startResponder(t, "udp4", "127.0.0.1", 0, nil)
	code, stdout, stderr := runCapture("watch", a.Addr, "--for", "300ms", "--every", "100ms")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"4 rounds every 100ms", "SERVER", "TOTAL OFFSET", a.Addr, " none ", "0.0000", " s ", "4/4", "fleet spread: no round compared two servers"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}

// TestWatchSilentServer: a server that never answers is shown and makes the
// exit status 1.
func TestWatchSilentServer(t *testing.T) {
	a := startResponder(t, "udp4", "127.0.0.1", 0, nil)
	closed := ntptest.ClosedPort(t)
	code, stdout, stderr := runCapture("watch", a.Addr, closed, "--for", "200ms", "--every", "100ms", "--json")
	if code != 1 || !strings.Contains(stderr, closed+" never answered") || !strings.Contains(stderr, "1 of 2 servers never answered") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if !strings.Contains(stdout, `"class": "unknown"`) || !strings.Contains(stdout, `"lost": 3`) {
		t.Errorf("stdout %s", stdout)
	}
}
