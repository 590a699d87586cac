package main

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/ntp"
)

// startResponder starts a loopback NTP server answering as a stratum 2
// server whose clock is ahead by offset, its reply changed by edit if given.
func startResponder(t *testing.T, network, host string, offset time.Duration, edit func(*ntp.Header)) *ntptest.Server {
	t.Helper()
	return ntptest.Start(t, network, host, func(req ntp.Header) ntp.Header {
		h := ntptest.Reply(req, offset)
		if edit != nil {
			edit(&h)
		}
		return h
	})
}

func runCapture(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = runWith(args, &out, &errb)
	return code, out.String(), errb.String()
}

// jsonKeys is the --json contract: every object has exactly these keys
// (kiss_code and error only when they apply).
var jsonKeys = []string{
	"server", "address", "stratum", "refid", "refid_hex", "li", "leap", "version", "precision",
	"root_delay_ns", "root_dispersion_ns", "offset_ns", "delay_ns", "t1", "t2", "t3", "t4",
	"samples", "lost", "offset_min_ns", "offset_median_ns", "offset_max_ns", "authenticated",
	"timescale", "ntpv5", "smear", "smear_evidence", "smear_offset_ns", "smear_policy",
}

func TestQueryJSON(t *testing.T) {
	good := startResponder(t, "udp4", "127.0.0.1", 2*time.Second, func(h *ntp.Header) { h.Leap = ntp.LeapInsert })
	dead := ntptest.ClosedPort(t)
	code, stdout, stderr := runCapture("query", good.Addr, dead, "--json", "--timeout", "1s")
	if code != 1 {
		t.Errorf("exit %d, want 1 (one server failed)", code)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("JSON: %v\n%s", err, stdout)
	}
	if len(got) != 2 {
		t.Fatalf("%d objects, want 2", len(got))
	}
	for i, obj := range got {
		keys := make([]string, 0, len(obj))
		for k := range obj {
			if k != "error" && k != "kiss_code" {
				keys = append(keys, k)
			}
		}
		want := slices.Clone(jsonKeys)
		slices.Sort(keys)
		slices.Sort(want)
		if !slices.Equal(keys, want) {
			t.Errorf("object %d keys %v, want %v", i, keys, want)
		}
	}
	g := got[0]
	if g["server"] != good.Addr || g["address"] != good.Addr || g["stratum"] != 2.0 || g["refid"] != "192.0.2.1" ||
		g["refid_hex"] != "C0000201" || g["li"] != 1.0 || g["leap"] != "Insert second" || g["version"] != 4.0 ||
		g["precision"] != -23.0 || g["samples"] != 1.0 || g["error"] != nil {
		t.Errorf("good server: %v", g)
	}
	// 1 ms in 16.16 is 66 units: 1007080 ns; 2 ms is 131 units: 1998901 ns.
	if g["root_delay_ns"] != 1007080.0 || g["root_dispersion_ns"] != 1998901.0 {
		t.Errorf("root delay %v dispersion %v", g["root_delay_ns"], g["root_dispersion_ns"])
	}
	// The offset is the server's 2 s, wrong by at most half the delay.
	off, delay := g["offset_ns"].(float64), g["delay_ns"].(float64)
	if !ntptest.OffsetWithin(time.Duration(off), 2*time.Second, time.Duration(delay)) || g["offset_min_ns"] != off || g["offset_max_ns"] != off {
		t.Errorf("offset %v (min %v max %v, delay %v), want 2s", off, g["offset_min_ns"], g["offset_max_ns"], delay)
	}
	var t1, t3, t4 time.Time
	for _, k := range []string{"t1", "t2", "t3", "t4"} {
		tm, err := time.Parse(time.RFC3339Nano, g[k].(string))
		if err != nil {
			t.Errorf("%s: %v", k, err)
		}
		switch k {
		case "t1":
			t1 = tm
		case "t3":
			t3 = tm
		case "t4":
			t4 = tm
		}
	}
	// The server's clock is 2 s ahead and it answered between t1 and t4
	// (on the client's clock): t3 - t1 is 2 s plus at most the round trip.
	if d, rtt := t3.Sub(t1), t4.Sub(t1); d < 2*time.Second-time.Millisecond || d > 2*time.Second+rtt+time.Millisecond {
		t.Errorf("t3 - t1 = %s, want 2 s to 2 s + the round trip (%s)", d, rtt)
	}
	d := got[1]
	if d["server"] != dead || d["samples"] != 0.0 || !strings.Contains(d["error"].(string), "no answer") {
		t.Errorf("failed server: %v", d)
	}
	// A server that did not answer told nothing: null, not stratum 0, LI 0
	// and an offset of 0.
	for _, k := range jsonKeys {
		switch k {
		case "server", "address", "samples", "lost":
			continue
		}
		if v, ok := d[k]; !ok || v != nil {
			t.Errorf("failed server: %q is %v, want null", k, v)
		}
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], dead) || !strings.Contains(lines[0], "no answer") ||
		lines[1] != "leapsmear: 1 of 2 servers failed" {
		t.Errorf("stderr:\n%s", stderr)
	}
}

func TestQueryHuman(t *testing.T) {
	good := startResponder(t, "udp4", "127.0.0.1", -1500*time.Millisecond, nil)
	code, stdout, stderr := runCapture("query", good.Addr)
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	for _, want := range []string{
		"Server          : " + good.Addr + "\n",
		"Reference ID    : C0000201 (192.0.2.1)\n",
		"Stratum         : 2\n",
		"Leap status     : Normal\n",
		"Version         : 4\n",
		"Precision       : -23 (0.000000119 seconds)\n",
		"Root delay      : 0.001007080 seconds\n",
		"Root dispersion : 0.001998901 seconds\n",
		"Server time     : 20",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	// The delay is well under a second, even on a loaded machine.
	if !regexp.MustCompile(`\nRound-trip delay: 0\.\d{9} seconds\n`).MatchString(stdout) {
		t.Errorf("delay line:\n%s", stdout)
	}
	// -1.5 s give or take the delay (tolerant of a loaded machine: 50 ms).
	if !regexp.MustCompile(`\nOffset          : -1\.(4[5-9]|5[0-4])\d{7} seconds \(local clock fast\)\n`).MatchString(stdout) {
		t.Errorf("offset line:\n%s", stdout)
	}
}

func TestQuerySamples(t *testing.T) {
	good := startResponder(t, "udp4", "127.0.0.1", time.Second, nil)
	code, stdout, _ := runCapture("query", good.Addr, "--samples", "4", "--interval", "10ms", "--json")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if n := good.Requests(); n != 4 {
		t.Errorf("%d requests, want 4", n)
	}
	var got []struct {
		Samples   int   `json:"samples"`
		Offset    int64 `json:"offset_ns"`
		OffsetMin int64 `json:"offset_min_ns"`
		OffsetMed int64 `json:"offset_median_ns"`
		OffsetMax int64 `json:"offset_max_ns"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil || len(got) != 1 {
		t.Fatalf("%v\n%s", err, stdout)
	}
	g := got[0]
	if g.Samples != 4 || g.OffsetMin > g.OffsetMed || g.OffsetMed > g.OffsetMax || g.Offset < g.OffsetMin || g.Offset > g.OffsetMax {
		t.Errorf("samples %+v", g)
	}
	code, stdout, _ = runCapture("query", good.Addr, "--samples", "2", "--interval", "0s")
	rangeLine := regexp.MustCompile(`\nOffset range    : min \+(0\.99|1\.00)\d{7} median \+(0\.99|1\.00)\d{7} max \+(0\.99|1\.00)\d{7} seconds\n`)
	if code != 0 || !strings.Contains(stdout, "Samples         : 2 of 2 answered") || !rangeLine.MatchString(stdout) {
		t.Errorf("exit %d:\n%s", code, stdout)
	}
}

func TestQueryKissStopsSampling(t *testing.T) {
	kod := startResponder(t, "udp4", "127.0.0.1", 0, func(h *ntp.Header) { h.Stratum, h.ReferenceID = 0, ntp.KissRATE })
	code, stdout, stderr := runCapture("query", kod.Addr, "--samples", "5", "--interval", "0s", "--json")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if n := kod.Requests(); n != 1 {
		t.Errorf("%d requests after a RATE kiss, want 1", n)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	if got[0]["kiss_code"] != "RATE" || got[0]["stratum"] != 0.0 || !strings.Contains(got[0]["error"].(string), "RATE") {
		t.Errorf("kiss: %v", got[0])
	}
	// A kiss carries no time: offset, delay and the server's timestamps are
	// null; the header's fields and the local send and receive times are not.
	for k, want := range map[string]bool{"offset_ns": false, "delay_ns": false, "t2": false, "t3": false, "offset_min_ns": false,
		"t1": true, "t4": true, "li": true, "refid_hex": true, "version": true} {
		if v, ok := got[0][k]; !ok || (v != nil) != want {
			t.Errorf("kiss: %q is %v (present %v), want a value: %v", k, v, ok, want)
		}
	}
	if lines := strings.Split(strings.TrimSpace(stderr), "\n"); len(lines) != 1 || !strings.Contains(stderr, "kiss-o'-death RATE") {
		t.Errorf("stderr %q", stderr)
	}
	code, stdout, _ = runCapture("query", kod.Addr)
	if code != 1 || !strings.Contains(stdout, "Kiss code       : RATE\n") || strings.Contains(stdout, "Offset") {
		t.Errorf("human kiss output (exit %d):\n%s", code, stdout)
	}
}

func TestQueryUnsynchronised(t *testing.T) {
	un := startResponder(t, "udp4", "127.0.0.1", 0, func(h *ntp.Header) { h.Leap, h.Stratum = ntp.LeapUnsynchronised, 16 })
	code, stdout, stderr := runCapture("query", un.Addr)
	if code != 1 || !strings.Contains(stdout, "Leap status     : Not synchronised\n") || !strings.Contains(stderr, "not synchronised") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

func TestQueryIPv6(t *testing.T) {
	r := startResponder(t, "udp6", "::1", 0, nil)
	ap := netip.MustParseAddrPort(r.Addr)
	code, stdout, stderr := runCapture("query", ap.String(), "--version", "3", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	if got[0]["address"] != ap.String() || got[0]["version"] != 3.0 {
		t.Errorf("%v", got[0])
	}
}

func TestQueryUsage(t *testing.T) {
	for _, args := range [][]string{
		{"query"},
		{"query", "127.0.0.1", "--samples", "0"},
		{"query", "127.0.0.1", "--samples", "101"},
		{"query", "127.0.0.1", "--version", "6"},
		{"query", "127.0.0.1", "--timescale", "tai"},
		{"query", "127.0.0.1", "--version", "5", "--timescale", "gps"},
		{"query", "127.0.0.1", "--timeout", "-1s"},
		{"query", "127.0.0.1", "--interval", "-1s"},
		{"query", "127.0.0.1", "--no-such-flag"},
	} {
		code, stdout, stderr := runCapture(args...)
		if code != 2 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "leapsmear: ") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
	}
	code, stdout, _ := runCapture("query", "--help")
	if code != 0 || !strings.Contains(stdout, "Examples:") || !strings.Contains(stdout, "--samples") {
		t.Errorf("--help: exit %d\n%s", code, stdout)
	}
	// A malformed address is a mistake in the command line, refused before
	// any server is asked or name looked up (tests stay off the network).
	code, _, stderr := runCapture("query", "[::1", "--timeout", "1s")
	if code != 2 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, `server "[::1": not a host name or address`) {
		t.Errorf("malformed address: exit %d, stderr %q", code, stderr)
	}
}
