package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/smear"
)

// runCmdIn runs the command line in-process with stdin as standard input.
func runCmdIn(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := runWithInput(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func decodeUnsmear(t *testing.T, out string) []map[string]any {
	t.Helper()
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	return rows
}

// TestUnsmearGoogleExample: google/unsmear's published figure, six hours
// into the noon-to-noon smear on the smeared clock true time is exactly
// 250 ms later (before the leap) or 250 ms earlier (after it, where true UTC
// has dropped the leap second, 750 ms net), and the smeared midnight is the
// middle of 23:59:60.
func TestUnsmearGoogleExample(t *testing.T) {
	code, out, errOut := runCmd(t, "unsmear", "--policy", "noon-to-noon", "--json",
		"2016-12-31T18:00:00Z", "2017-01-01T00:00:00Z", "2017-01-01T07:00:00+01:00", "2016-12-31T11:00:00Z")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	rows := decodeUnsmear(t, out)
	want := []map[string]any{
		{"smeared": "2016-12-31T18:00:00Z", "utc": "2016-12-31T18:00:00.25Z", "tai_utc": 36.0},
		{"smeared": "2017-01-01T00:00:00Z", "utc": "2016-12-31T23:59:60.5Z", "tai_utc": 36.0},
		{"smeared": "2017-01-01T06:00:00Z", "utc": "2017-01-01T05:59:59.75Z", "tai_utc": 37.0},
		{"smeared": "2016-12-31T11:00:00Z", "utc": "2016-12-31T11:00:00Z", "tai_utc": 36.0},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows: %s", len(rows), out)
	}
	for i := range want {
		if fmt.Sprint(rows[i]) != fmt.Sprint(want[i]) {
			t.Errorf("row %d = %v, want %v", i, rows[i], want[i])
		}
	}
	code, out, _ = runCmd(t, "unsmear", "--policy", "noon-to-noon", "--to", "tai", "2016-12-31T18:00:00Z", "2017-01-01T06:00:00Z")
	if code != 0 {
		t.Fatal(out)
	}
	for _, w := range []string{"2016-12-31T18:00:36.25 TAI  36", "2017-01-01T06:00:36.75 TAI  37"} {
		if !strings.Contains(out, w) {
			t.Errorf("--to tai lacks %q:\n%s", w, out)
		}
	}
}

// exactInverse is the exact true TAI instant, a rational number of
// nanoseconds, at which a linear window's smeared clock reads served.
func exactInverse(w smear.Window, served smear.Time) *big.Rat {
	s := int64(w.Event.Delta)
	before := int64(w.Event.Before()) * leap.Second
	l := int64(w.End - w.Start)
	d := new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(int64(served)-(int64(w.Start)-before)), big.NewInt(l)), big.NewInt(l-s*leap.Second))
	return d.Add(d, new(big.Rat).SetInt64(int64(w.Start)))
}

// TestUnsmearFilterExactInverse feeds the filter log lines stamped with
// random smeared times in and around the noon-to-noon window of 2016, in
// several zones, and checks each printed true instant against the exact
// inverse of the linear smear: within 1 ns, and exact where it is whole.
func TestUnsmearFilterExactInverse(t *testing.T) {
	table := leap.Default()
	s, err := smear.New(table, smear.Presets()[1])
	if err != nil {
		t.Fatal(err)
	}
	w := s.Windows()[26]
	if w.Event.Day().Format("2006-01-02") != "2016-12-31" {
		t.Fatalf("window %v", w.Event)
	}
	startS := int64(w.Start) - int64(w.Event.Before())*leap.Second
	endS := int64(w.End) - int64(w.Event.TAIUTC)*leap.Second
	r := rand.New(rand.NewPCG(17, 1))
	zones := []*time.Location{time.UTC, time.FixedZone("", 3600), time.FixedZone("", -5*3600-1800)}
	var in strings.Builder
	var served []smear.Time
	for i := range 3000 {
		var ns int64
		switch i % 3 {
		case 0: // a whole point: the exact inverse is a whole nanosecond
			ns = startS + r.Int64N((endS-startS)/86400e3)*86400e3
		case 1:
			ns = startS + r.Int64N(endS-startS)
		default: // around the window
			ns = startS - 3600*leap.Second + r.Int64N(endS-startS+7200*leap.Second)
		}
		served = append(served, smear.Time(ns))
		fmt.Fprintf(&in, "%d level=info ts=%s msg=\"request done\"\n", i, time.Unix(0, ns).In(zones[i%3]).Format(time.RFC3339Nano))
	}
	code, out, errOut := runCmdIn(t, in.String(), "unsmear", "--policy", "noon-to-noon")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(served) {
		t.Fatalf("%d lines out, %d in", len(lines), len(served))
	}
	for i, line := range lines {
		var n int
		var stamp string
		if _, err := fmt.Sscanf(line, "%d level=info ts=%s msg=\"request done\"", &n, &stamp); err != nil || n != i {
			t.Fatalf("line %d changed beyond its timestamp: %q", i, line)
		}
		l, err := leap.ParseLabel(stamp)
		if err != nil || !strings.HasSuffix(stamp, "Z") {
			t.Fatalf("line %d: %q not UTC: %v", i, stamp, err)
		}
		got, err := table.TAIFromLabel(l)
		if err != nil {
			t.Fatal(err)
		}
		var want *big.Rat
		if int64(served[i]) >= startS && int64(served[i]) < endS {
			want = exactInverse(w, served[i])
		} else {
			want = new(big.Rat).SetInt64(int64(table.TAIFromUnix(leap.UTC(served[i]))))
		}
		diff := new(big.Rat).Sub(new(big.Rat).SetInt64(int64(got)), want)
		if diff.Cmp(big.NewRat(-1, 1)) <= 0 || diff.Cmp(big.NewRat(1, 1)) >= 0 || (want.IsInt() && diff.Sign() != 0) {
			t.Fatalf("line %d: smeared %d unsmeared to %s (TAI %d), exact %s", i, served[i], stamp, got, want.FloatString(3))
		}
		if s.Served(got) != served[i] {
			t.Fatalf("line %d: %s was served as %d, not %d", i, stamp, s.Served(got), served[i])
		}
	}
}

// TestUnsmearFilterPassesThrough: lines without timestamps, with bad ones,
// CRLF endings, a last line without newline and a line longer than the read
// buffer all come out as they went in, but for their good timestamps; the
// bad lines are counted on stderr with the first of them, and exit is 0.
func TestUnsmearFilterPassesThrough(t *testing.T) {
	long := strings.Repeat("x", 200<<10)
	in := "no timestamp here\r\n" +
		"bad 2016-12-31T18:00:00 (no zone) and good 2016-12-31T18:00:00Z\r\n" +
		"id=12016-12-31T18:00:00Z is not a timestamp\n" +
		"2016-13-01T00:00:00Z bad month\n" +
		"second 60 2016-12-31T23:59:60Z\n" +
		long + " 2017-01-01T06:00:00Z\n" +
		"\n" +
		"last 2017-01-01T00:00:00.5+00:00"
	want := "no timestamp here\r\n" +
		"bad 2016-12-31T18:00:00 (no zone) and good 2016-12-31T18:00:00.25Z\r\n" +
		"id=12016-12-31T18:00:00Z is not a timestamp\n" +
		"2016-13-01T00:00:00Z bad month\n" +
		"second 60 2016-12-31T23:59:60Z\n" +
		long + " 2017-01-01T05:59:59.75Z\n" +
		"\n" +
		"last 2017-01-01T00:00:00.000005787Z"
	code, out, errOut := runCmdIn(t, in, "unsmear", "--policy", "noon-to-noon")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if out != want {
		t.Errorf("output differs:\n%.300q\nwant\n%.300q", out, want)
	}
	if errOut != "leapsmear: unsmear: 3 of 8 lines had a timestamp that could not be unsmeared, left as it was (first: line 2: time \"2016-12-31T18:00:00\" has no time zone)\n" {
		t.Errorf("stderr %q", errOut)
	}
	// The same input with --json lists the good timestamps only.
	code, out, _ = runCmdIn(t, in, "unsmear", "--policy", "noon-to-noon", "--json")
	if rows := decodeUnsmear(t, out); code != 0 || len(rows) != 3 || rows[2]["utc"] != "2017-01-01T00:00:00.000005787Z" {
		t.Errorf("--json filter: exit %d, %s", code, out)
	}
	if code, out, _ := runCmdIn(t, "", "unsmear", "--policy", "noon-to-noon", "--json"); code != 0 || out != "[]\n" {
		t.Errorf("empty input with --json: %d %q", code, out)
	}
}

// TestUnsmearFilterStreams: the filter answers each line before the next is
// written, so it neither loads its input first nor holds its output back
// (tail -f app.log | leapsmear unsmear ...).
func TestUnsmearFilterStreams(t *testing.T) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan int, 1)
	var errOut bytes.Buffer
	go func() {
		done <- runWithInput([]string{"unsmear", "--policy", "noon-to-noon"}, inR, outW, &errOut)
		outW.Close()
	}()
	lines := bufio.NewReader(outR)
	for i := range 200 {
		fmt.Fprintf(inW, "%d 2016-12-31T18:00:00Z\n", i)
		got, err := lines.ReadString('\n')
		if err != nil || got != fmt.Sprintf("%d 2016-12-31T18:00:00.25Z\n", i) {
			t.Fatalf("line %d: %q %v", i, got, err)
		}
	}
	inW.Close()
	if rest, _ := io.ReadAll(lines); len(rest) != 0 {
		t.Errorf("unexpected output %q", rest)
	}
	if code := <-done; code != 0 {
		t.Errorf("exit %d: %s", code, errOut.String())
	}
}

// TestUnsmearStep: the step policy's repeated second prints its first
// occurrence, marked; the seconds around it are not marked.
func TestUnsmearStep(t *testing.T) {
	code, out, errOut := runCmd(t, "unsmear", "--policy", "step", "--json", "2016-12-31T23:59:58.5Z", "2016-12-31T23:59:59.5Z", "2017-01-01T00:00:00Z")
	if code != 0 {
		t.Fatal(errOut)
	}
	rows := decodeUnsmear(t, out)
	if rows[0]["repeated"] != nil || rows[0]["utc"] != "2016-12-31T23:59:58.5Z" ||
		rows[1]["repeated"] != true || rows[1]["utc"] != "2016-12-31T23:59:59.5Z" ||
		rows[2]["repeated"] != nil || rows[2]["utc"] != "2017-01-01T00:00:00Z" || rows[2]["tai_utc"] != 37.0 {
		t.Errorf("%v", rows)
	}
	_, out, _ = runCmd(t, "unsmear", "--policy", "step", "2016-12-31T23:59:59.5Z")
	if !strings.Contains(out, "2016-12-31T23:59:59.5Z  36  repeated second: or 2016-12-31T23:59:60.5Z") {
		t.Errorf("table:\n%s", out)
	}
	_, _, errOut = runCmdIn(t, "a 2016-12-31T23:59:59.5Z\nb 2016-12-31T23:59:58Z\n", "unsmear", "--policy", "step")
	if !strings.Contains(errOut, "1 timestamps fell in the second 23:59:59 that the step policy served twice") {
		t.Errorf("stderr %q", errOut)
	}
}

// TestUnsmearDeletedSecond: with a deleted second, the step policy never
// served it (an error), and a smear runs fast through it.
func TestUnsmearDeletedSecond(t *testing.T) {
	table, err := leap.Default().WithRehearsal(time.Date(2030, 7, 1, 0, 0, 0, 0, time.UTC), -1)
	if err != nil {
		t.Fatal(err)
	}
	step, _ := smear.New(table, smear.Presets()[0])
	u := &unsmearer{s: step, table: table}
	if _, err := u.convert("2030-06-30T23:59:59.5Z"); err == nil || !strings.Contains(err.Error(), "never served") {
		t.Errorf("deleted second: %v", err)
	}
	if r, err := u.convert("2030-06-30T23:59:58.5Z"); err != nil || r.UTC != "2030-06-30T23:59:58.5Z" || r.TAIUTC != 37 {
		t.Errorf("before it: %+v %v", r, err)
	}
	// Noon-to-noon runs fast through it: the smeared midnight is 43 200 s
	// into the window, 43 199.5 s of true time, half a second past the
	// deleted 23:59:59.
	lin, _ := smear.New(table, smear.Presets()[1])
	u = &unsmearer{s: lin, table: table, toTAI: true}
	r, err := u.convert("2030-07-01T00:00:00Z")
	if err != nil || r.UTC != "2030-07-01T00:00:00.5Z" || r.TAI != "2030-07-01T00:00:36.5 TAI" || r.TAIUTC != 36 {
		t.Errorf("the smeared midnight: %+v %v", r, err)
	}
}

func TestUnsmearErrors(t *testing.T) {
	cases := map[string][]string{
		"--policy is required": {"unsmear", "2016-12-31T18:00:00Z"},
		"--policy":             {"unsmear", "--policy", "sine", "2016-12-31T18:00:00Z"},
		"--to \"gps\"":         {"unsmear", "--policy", "step", "--to", "gps", "2016-12-31T18:00:00Z"},
		"want RFC 3339":        {"unsmear", "--policy", "step", "2016-12-31 18:00:00"},
		"second 60":            {"unsmear", "--policy", "noon-to-noon", "2016-12-31T23:59:60Z"},
		"outside 1972":         {"unsmear", "--policy", "noon-to-noon", "1969-07-21T02:56:00Z"},
	}
	for want, args := range cases {
		code, _, errOut := runCmd(t, args...)
		if code != 2 || !strings.Contains(errOut, want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line with %q", args, code, errOut, want)
		}
	}
	code, _, errOut := runCmd(t, "unsmear", "--policy", "step", "--leap-file", "/nonexistent/leap-seconds.list", "2016-12-31T18:00:00Z")
	if code != 1 || !strings.Contains(errOut, "/nonexistent/leap-seconds.list") {
		t.Errorf("missing leap file: exit %d %q", code, errOut)
	}
	// A timestamp past the expiry of the (expired) table is converted with
	// a warning.
	code, out, errOut := runCmd(t, "unsmear", "--policy", "noon-to-noon", "--leap-file", leapTestdata+"leap-seconds.list", "2026-11-30T12:00:00Z")
	if code != 0 || !strings.Contains(out, "2026-11-30T12:00:00Z  2026-11-30T12:00:00Z  37") ||
		!strings.Contains(errOut, "1 timestamps are after the leap table's expiry (2026-06-28T00:00:00Z)") {
		t.Errorf("expired table: exit %d\n%s%s", code, out, errOut)
	}
}

// TestNextStamp: the shapes the filter takes for timestamps.
func TestNextStamp(t *testing.T) {
	cases := map[string][]string{
		"2016-12-31T18:00:00Z":                             {"2016-12-31T18:00:00Z"},
		"[2016-12-31T18:00:00.123456789-07:30]":            {"2016-12-31T18:00:00.123456789-07:30"},
		"a2016-12-31T18:00:00Z 2016-12-31T18:00:00":        {"!2016-12-31T18:00:00"},
		"2016-12-31T18:00:00.Z":                            {"!2016-12-31T18:00:00"},
		"T T 2016-12-31T1:00:00Z 2016-12-31T18:00:00+0100": {"!2016-12-31T18:00:00"},
		"x=2016-12-31T18:00:00Z,y=2017-01-01T00:00:00Z":    {"2016-12-31T18:00:00Z", "2017-01-01T00:00:00Z"},
		"": nil,
	}
	for in, want := range cases {
		var got []string
		for i := 0; ; {
			s, e, zoned := nextStamp([]byte(in), i)
			if s < 0 {
				break
			}
			tok := in[s:e]
			if !zoned {
				tok = "!" + tok
			}
			got = append(got, tok)
			i = e
		}
		if !slices.Equal(got, want) {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

// FuzzUnsmearFilter: any input comes out with the same number of lines, no
// crash, and unchanged where it holds no timestamp.
func FuzzUnsmearFilter(f *testing.F) {
	f.Add("a 2016-12-31T18:00:00Z b\n")
	f.Add("2016-12-31T23:59:60.5Z\r\n2017-01-01T00:00:00+01:00")
	f.Add("9999-99-99T99:99:99Z 0000-01-01T00:00:00-23:59")
	table := leap.Default()
	s, _ := smear.New(table, smear.Presets()[1])
	u := &unsmearer{s: s, table: table}
	f.Fuzz(func(t *testing.T, in string) {
		var out bytes.Buffer
		if err := unsmearFilter(strings.NewReader(in), &out, io.Discard, u, false); err != nil {
			t.Fatal(err)
		}
		if strings.Count(out.String(), "\n") != strings.Count(in, "\n") {
			t.Fatalf("%q -> %q", in, out.String())
		}
		if !strings.Contains(in, "T") && out.String() != in {
			t.Fatalf("%q -> %q", in, out.String())
		}
	})
}
