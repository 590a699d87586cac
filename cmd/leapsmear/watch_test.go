package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
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
		{[]string{"watch", "127.0.0.1", "--for", "1s", "--every", "10ms"}, "--every 10ms: want at least 100ms"},
		{[]string{"watch", "127.0.0.1", "--for", "100h"}, "--for 100h: want at most 80h"},
		{[]string{"watch", "127.0.0.1", "--for", "1s", "--leap", "tomorrow"}, "--leap"},
		{[]string{"watch", "127.0.0.1", "--for", "1s", "--leap", "2020-03-03"}, "--leap: 2020-03-03: leap table embedded leap-seconds.list has no leap second at the end of that day"},
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
// neither changes, and the fleet spread is that quarter second, within what
// the round trips measured allow. The watch is due 30 rounds; a loaded
// machine may skip some (a round that overran skips those that fell due
// meanwhile), so the summary, the CSV and the servers' counts must agree on
// the rounds made, not on 30. Thirty are due so that, where the spread
// leaves out replies delayed beyond their server's margin, some round
// still compares both.
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
	if len(out.Servers) != 2 || out.SpreadNs == nil || out.Rounds < 1 || out.Rounds > 30 || out.SpreadRounds < 1 || out.SpreadRounds > out.Rounds {
		t.Fatalf("%s", stdout)
	}
	t.Logf("%d rounds made of 30 due, %d compared both servers", out.Rounds, out.SpreadRounds)
	data, err := os.ReadFile(csvFile)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(string(data))).ReadAll()
	if err != nil || len(rows) != 2*out.Rounds+1 || strings.Join(rows[0][:3], ",") != "round,round_at,server" {
		t.Fatalf("CSV: %v, %d rows for %d rounds: %v", err, len(rows), out.Rounds, rows[:min(len(rows), 3)])
	}
	// Per server, from the CSV: the answers, and the longest round trip.
	var answered [2]int
	var maxDelay [2]time.Duration
	for _, r := range rows[1:] {
		i := slices.Index([]string{a.Addr, b.Addr}, r[2])
		if i < 0 {
			t.Fatalf("CSV row of an unknown server: %v", r)
		}
		if r[4] != "1" {
			if r[11] == "" {
				t.Errorf("CSV: unanswered without an error: %v", r)
			}
			continue
		}
		delay, err := strconv.ParseInt(r[7], 10, 64)
		if err != nil {
			t.Fatalf("CSV delay %q: %v", r[7], err)
		}
		answered[i]++
		maxDelay[i] = max(maxDelay[i], time.Duration(delay))
	}
	for i, s := range out.Servers {
		if s.Server != []string{a.Addr, b.Addr}[i] || s.Class != "none" || s.Shape == nil || s.TotalOffsetNs == nil || s.MaxRatePPM == nil ||
			s.Answered != answered[i] || s.Answered < 1 {
			t.Errorf("server %d: %+v (the CSV has %d answers)", i, s, answered[i])
		}
	}
	// Each offset is off by at most half its round trip (plus 1 ms for
	// reading the clocks): so is the difference, by the sum of both.
	if spread := time.Duration(*out.SpreadNs); !ntptest.OffsetWithin(spread, 250*time.Millisecond, maxDelay[0]+maxDelay[1]) {
		t.Errorf("spread %v over %d rounds, want 250ms within %v (round trips up to %v and %v)",
			spread, out.SpreadRounds, (maxDelay[0]+maxDelay[1])/2+time.Millisecond, maxDelay[0], maxDelay[1])
	}
	if n := a.Requests(); n != int64(out.Rounds) {
		t.Errorf("server a asked %d times in %d rounds", n, out.Rounds)
	}
	// Written again at the end with the relative offsets: the reference's
	// is 0 wherever it was compared.
	if !strings.Contains(string(data), ","+a.Addr+",1,") || !regexp.MustCompile(`,[0-9]+,0,0,2,\n`).MatchString(string(data)) {
		t.Errorf("CSV without relative offsets:\n%s", data)
	}
	svg, err := os.ReadFile(svgFile)
	if err != nil || !strings.Contains(string(svg), "<svg") || !strings.Contains(string(svg), a.Addr+": none") {
		t.Errorf("SVG: %v, %d bytes", err, len(svg))
	}
}

// TestWatchText: the text summary of a watch of one server that does not
// change. Four rounds are due; a loaded machine may skip some, so the counts
// are checked against the CSV, and the total offset against the round trips
// it records.
func TestWatchText(t *testing.T) {
	a := startResponder(t, "udp4", "127.0.0.1", 0, nil)
	csvFile := filepath.Join(t.TempDir(), "w.csv")
	code, stdout, stderr := runCapture("watch", a.Addr, "--for", "300ms", "--every", "100ms", "--csv", csvFile)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	data, err := os.ReadFile(csvFile)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(string(data))).ReadAll()
	if err != nil || len(rows) < 2 || len(rows) > 5 {
		t.Fatalf("CSV: %v\n%s", err, data)
	}
	rounds, answered, maxDelay := len(rows)-1, 0, time.Duration(0)
	for _, r := range rows[1:] {
		if r[4] == "1" {
			answered++
			d, _ := strconv.ParseInt(r[7], 10, 64)
			maxDelay = max(maxDelay, time.Duration(d))
		}
	}
	for _, want := range []string{fmt.Sprintf("%d rounds every 100ms", rounds), "SERVER", "TOTAL OFFSET", a.Addr, " none ", " s ",
		fmt.Sprintf(" %d/%d\n", answered, rounds), "fleet spread: no round compared two servers"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	// The total offset is the change between two offsets, each off by at
	// most half its round trip (and 1 ms for reading the clocks).
	m := regexp.MustCompile(` none .* ([-+]?[0-9]+\.[0-9]+) s `).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("no total offset in:\n%s", stdout)
	}
	total, err := time.ParseDuration(m[1] + "s")
	if err != nil || !ntptest.OffsetWithin(total, 0, 2*maxDelay) {
		t.Errorf("total offset %s s (%v), want 0 within %v (round trips up to %v)", m[1], err, maxDelay+time.Millisecond, maxDelay)
	}
}

// TestWatchSilentServer: a server that never answers is shown as such, not
// as a total offset of 0, and makes the exit status 1.
func TestWatchSilentServer(t *testing.T) {
	a := startResponder(t, "udp4", "127.0.0.1", 0, nil)
	closed := ntptest.ClosedPort(t)
	code, stdout, stderr := runCapture("watch", a.Addr, closed, "--for", "200ms", "--every", "100ms", "--json")
	if code != 1 || !strings.Contains(stderr, closed+" never answered") || !strings.Contains(stderr, "1 of 2 servers never answered") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	// Three rounds are due; a loaded machine may skip some. Every one made
	// lost its request to the closed port.
	var out struct {
		Servers  []map[string]any `json:"servers"`
		SpreadNs any              `json:"spread_ns"`
		Rounds   int              `json:"rounds"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil || len(out.Servers) != 2 || out.Rounds < 1 || out.Rounds > 3 {
		t.Fatalf("%v: %s", err, stdout)
	}
	s := out.Servers[1]
	if s["class"] != "unknown" || s["lost"] != float64(out.Rounds) || s["answered"] != 0.0 {
		t.Errorf("silent server: %v in %d rounds", s, out.Rounds)
	}
	for _, k := range []string{"total_offset_ns", "max_rate_ppm"} {
		if v, ok := s[k]; !ok || v != nil {
			t.Errorf("silent server: %q is %v (present %v), want null", k, v, ok)
		}
	}
	if _, isNum := out.Servers[0]["total_offset_ns"].(float64); !isNum || out.SpreadNs != nil {
		t.Errorf("answering server's total %v, spread %v (no round compared two servers: null)", out.Servers[0]["total_offset_ns"], out.SpreadNs)
	}

	code, stdout, _ = runCapture("watch", a.Addr, closed, "--for", "200ms", "--every", "100ms")
	var row string
	for line := range strings.Lines(stdout) {
		if strings.HasPrefix(line, closed+" ") {
			row = line
		}
	}
	if code != 1 || !strings.Contains(row, " unknown ") || !strings.Contains(row, " no answer ") || strings.Contains(row, "0.000000000") ||
		!regexp.MustCompile(` 0/[123]\n$`).MatchString(row) {
		t.Errorf("exit %d, the silent server's row %q in:\n%s", code, row, stdout)
	}
}

// TestWatchOutputsFirst: an output that cannot be written is refused before
// the first poll, with exit status 2 and one line naming the flag and file.
func TestWatchOutputsFirst(t *testing.T) {
	a := startResponder(t, "udp4", "127.0.0.1", 0, nil)
	dir := t.TempDir()
	missing := filepath.Join(dir, "no-such-dir", "w.csv")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--csv", missing}, "--csv " + missing + ": no such file or directory"},
		{[]string{"--svg", missing + ".svg"}, "--svg " + missing + ".svg: no such file or directory"},
		{[]string{"--csv", dir}, "--csv " + dir + ": is a directory"},
		{[]string{"--csv", filepath.Join(dir, "w"), "--svg", filepath.Join(dir, ".", "w")}, "--csv and --svg both name"},
		// The second output is checked too, and the first one is not left behind.
		{[]string{"--csv", filepath.Join(dir, "ok.csv"), "--svg", missing + ".svg"}, "--svg " + missing + ".svg"},
	} {
		args := append([]string{"watch", a.Addr, "--for", "1h"}, c.args...)
		code, stdout, stderr := runCapture(args...)
		if code != 2 || stdout != "" || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and one line with %q", c.args, code, stdout, stderr, c.want)
		}
	}
	if n := a.Requests(); n != 0 {
		t.Errorf("the server was asked %d times: the outputs must be checked before the first poll", n)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Errorf("files left behind: %v %v", entries, err)
	}
}

// TestWatchCSVAsItGoes: the CSV holds every round as soon as it is made (a
// crash keeps what was seen), and SIGINT or SIGTERM end the watch, which
// then writes the summary, the chart and the CSV again with the relative
// offsets.
func TestWatchCSVAsItGoes(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			a := startResponder(t, "udp4", "127.0.0.1", 0, nil)
			b := startResponder(t, "udp4", "127.0.0.1", 0, nil)
			dir := t.TempDir()
			csvFile, svgFile := filepath.Join(dir, "w.csv"), filepath.Join(dir, "w.svg")
			type result struct {
				code           int
				stdout, stderr string
			}
			done := make(chan result, 1)
			go func() {
				code, stdout, stderr := runCapture("watch", a.Addr, b.Addr, "--for", "1m", "--every", "100ms", "--json", "--csv", csvFile, "--svg", svgFile)
				done <- result{code, stdout, stderr}
			}()
			// Wait for five rounds on disk while the watch goes on: a valid
			// CSV file whose relative_ns column is still empty.
			var rows [][]string
			for deadline := time.Now().Add(30 * time.Second); len(rows) < 1+2*5; time.Sleep(50 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("after 30 s, %d rows in the CSV", len(rows))
				}
				select {
				case r := <-done:
					t.Fatalf("the watch ended: exit %d: %s", r.code, r.stderr)
				default:
				}
				data, err := os.ReadFile(csvFile)
				if errors.Is(err, fs.ErrNotExist) {
					continue // not yet created
				} else if err != nil {
					t.Fatal(err)
				}
				if rows, err = csv.NewReader(bytes.NewReader(data)).ReadAll(); err != nil {
					t.Fatalf("CSV during the watch: %v\n%s", err, data)
				}
			}
			for _, row := range rows[1:] {
				if row[4] != "1" || row[8] != "" {
					t.Errorf("row written during the watch: %q", row)
				}
			}
			if err := syscall.Kill(os.Getpid(), sig); err != nil {
				t.Fatal(err)
			}
			r := <-done
			m := regexp.MustCompile(`stopped early after (\d+) round`).FindStringSubmatch(r.stderr)
			if r.code != 0 || m == nil {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			var sum struct {
				Rounds int `json:"rounds"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil || strconv.Itoa(sum.Rounds) != m[1] || sum.Rounds < 5 {
				t.Errorf("summary of %d rounds (%v), stderr %q", sum.Rounds, err, r.stderr)
			}
			data, err := os.ReadFile(csvFile)
			if err != nil {
				t.Fatal(err)
			}
			rows, err = csv.NewReader(bytes.NewReader(data)).ReadAll()
			if err != nil || len(rows) != 1+2*sum.Rounds {
				t.Fatalf("final CSV: %d rows for %d rounds, %v", len(rows), sum.Rounds, err)
			}
			compared := 0
			for _, row := range rows[1:] {
				if row[2] == a.Addr && row[8] == "0" {
					compared++
				}
			}
			if compared == 0 {
				t.Errorf("no relative offset in the final CSV:\n%s", data)
			}
			if svg, err := os.ReadFile(svgFile); err != nil || !strings.Contains(string(svg), "<svg") {
				t.Errorf("SVG: %v, %d bytes", err, len(svg))
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 2 {
				t.Errorf("files in the output directory: %v", entries)
			}
		})
	}
}
