package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/ntp"
)

// queryJSONOf runs query --json and decodes its output.
func queryJSONOf(t *testing.T, args ...string) (int, []map[string]any, string) {
	t.Helper()
	code, stdout, stderr := runCapture(append([]string{"query", "--json", "--timeout", "2s"}, args...)...)
	var out []map[string]any
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("query %v: %v\n%s%s", args, err, stdout, stderr)
	}
	return code, out, stderr
}

// TestQueryDetectsSmears: without waiting for a leap, query says what each
// listener of a leapsmear server declares (its policy and next window, the
// smear reference ID while smearing, that it speaks NTPv5), and exits 1
// with the reason when the servers named mix smearing and non-smearing
// time, or smear differently; servers that agree pass.
func TestQueryDetectsSmears(t *testing.T) {
	t.Parallel()
	addrs, _, _ := serveInProcessAll(t, "--listen", "127.0.0.1:0=noon-to-noon", "--listen", "127.0.0.1:0=noon-to-noon",
		"--listen", "127.0.0.1:0=step", "--listen", "127.0.0.1:0=quadratic-17h", "--refid-smear", "draft",
		"--time-offset-to", "2016-12-31T18:00:00Z", "--assume-synced", "--sockets", "1")
	smear1, smear2, step, quad := addrs[0], addrs[1], addrs[2], addrs[3]
	plain := startResponder(t, "udp4", "127.0.0.1", 0, nil)

	code, out, stderr := queryJSONOf(t, smear1, smear2)
	if code != 0 {
		t.Fatalf("two identical smears: exit %d: %s", code, stderr)
	}
	o := out[0]
	pol, _ := o["smear_policy"].(map[string]any)
	if o["smear"] != "yes" || o["ntpv5"] != true || o["timescale"] != nil || pol["policy"] != "noon-to-noon" ||
		pol["leap"] != "2016-12-31T23:59:60Z" || pol["opens"] != "2016-12-31T12:00:00Z" || pol["closes"] != "2017-01-01T12:00:00Z" ||
		!strings.Contains(o["smear_evidence"].(string), "254.") {
		t.Errorf("smearing listener: %v", o)
	}
	if off, _ := o["smear_offset_ns"].(float64); off > -249e6 || off < -251e6 {
		t.Errorf("smear offset from the reference ID: %v", o["smear_offset_ns"])
	}
	code, out, _ = queryJSONOf(t, step, plain.Addr)
	if code != 0 || out[0]["smear"] != "no" || out[0]["smear_offset_ns"] != nil || out[1]["smear"] != "unknown" || out[1]["ntpv5"] != false ||
		out[1]["smear_policy"] != nil {
		t.Errorf("step and a plain server: exit %d, %v", code, out)
	}
	for _, c := range []struct {
		servers []string
		want    string
	}{
		{[]string{smear1, step}, "mix leap-smeared and unsmeared time: " + smear1 + " (leapsmear policy noon-to-noon"},
		{[]string{smear1, plain.Addr}, plain.Addr + " (declares nothing) do not"},
		{[]string{smear1, quad}, "smear differently: " + smear1 + " smears by noon-to-noon"},
	} {
		code, stdout, stderr := runCapture(append([]string{"query"}, c.servers...)...)
		if code != 1 || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want 1 and %q", c.servers, code, stderr, c.want)
		}
		if !strings.Contains(stdout, "Smear           : yes: leapsmear policy noon-to-noon") || !strings.Contains(stdout, "NTPv5           : spoken") {
			t.Errorf("%v: output\n%s", c.servers, stdout)
		}
	}
	// NTPv5: each timescale as asked, the step listener without a smear
	// answering UTC.
	for _, c := range []struct {
		server, ask, want, smear string
	}{
		{smear1, "tai", "tai", "no"},
		{smear1, "smeared", "smeared", "yes"},
		{smear1, "utc", "utc", "no"},
		{step, "smeared", "utc", "no"},
	} {
		code, out, stderr := queryJSONOf(t, c.server, "--version", "5", "--timescale", c.ask)
		if code != 0 || out[0]["timescale"] != c.want || out[0]["smear"] != c.smear || out[0]["version"] != 5.0 || out[0]["ntpv5"] != nil {
			t.Errorf("NTPv5 %s from %s: exit %d %s %v", c.ask, c.server, code, stderr, out[0])
		}
	}
	code, stdout, _ := runCapture("query", smear1, "--version", "5", "--timescale", "smeared")
	if code != 0 || !strings.Contains(stdout, "Timescale       : leap-smeared UTC") {
		t.Errorf("exit %d:\n%s", code, stdout)
	}
}

// TestQueryV5Rehearsal: NTPv5 requests for each timescale through a
// rehearsed inserted second (a 2 s smear around a leap 3 s after start):
// TAI runs on, UTC steps back a second (TAI-UTC 37, then 38, the leap
// announced before it), and leap-smeared UTC moves from UTC-before to
// UTC-after without a jump.
func TestQueryV5Rehearsal(t *testing.T) {
	t.Parallel()
	addr, _, _ := serveInProcess(t, "--listen", "127.0.0.1:0", "--rehearse", "now+3s,+1", "--policy", "linear:-1s:2s",
		"--assume-synced", "--sockets", "1")
	type sample struct {
		utc, tai, smeared time.Duration // offsets from the local clock
		delay             time.Duration // the sum of the three exchanges' delays
		li                float64
	}
	ask := func() sample {
		var s sample
		for _, ts := range []string{"utc", "tai", "smeared"} {
			code, out, stderr := queryJSONOf(t, addr, "--version", "5", "--timescale", ts)
			if code != 0 || out[0]["timescale"] != ts {
				t.Fatalf("%s: exit %d %s %v", ts, code, stderr, out)
			}
			off := time.Duration(out[0]["offset_ns"].(float64))
			s.delay += time.Duration(out[0]["delay_ns"].(float64))
			switch ts {
			case "utc":
				s.utc, s.li = off, out[0]["li"].(float64)
			case "tai":
				s.tai = off
			default:
				s.smeared = off
			}
		}
		return s
	}
	before := ask()
	time.Sleep(5 * time.Second)
	after := ask()
	t.Logf("before %+v, after %+v", before, after)
	// Two offsets of one server differ by what it served, to within the
	// bound the exchanges' delays allow.
	bound := before.delay + after.delay
	near := func(a, b time.Duration) bool { return ntptest.OffsetWithin(a, b, bound) }
	if !near(before.tai-before.utc, 37*time.Second) || !near(after.tai-after.utc, 38*time.Second) {
		t.Errorf("TAI-UTC %v then %v, want 37 s then 38 s", before.tai-before.utc, after.tai-after.utc)
	}
	if before.li != float64(ntp.LeapInsert) || after.li != 0 {
		t.Errorf("UTC's leap indicator %v then %v, want 1 then 0", before.li, after.li)
	}
	if !near(before.smeared, before.utc) || !near(after.smeared, after.utc) || !near(before.tai, after.tai) {
		t.Errorf("smeared %v then %v, UTC %v then %v, TAI %v then %v", before.smeared, after.smeared, before.utc, after.utc, before.tai, after.tai)
	}
}

// TestWatchDeclares: watch reports what each server declares and warns when
// they mix smears.
func TestWatchDeclares(t *testing.T) {
	t.Parallel()
	addrs, _, _ := serveInProcessAll(t, "--listen", "127.0.0.1:0=noon-to-noon", "--listen", "127.0.0.1:0=step",
		"--time-offset-to", "2016-12-31T18:00:00Z", "--assume-synced", "--sockets", "1")
	code, stdout, stderr := runCapture("watch", addrs[0], addrs[1], "--for", "1s", "--every", "250ms", "--json")
	if code != 0 {
		t.Fatalf("watch: exit %d: %s", code, stderr)
	}
	var out struct {
		Servers []map[string]any `json:"servers"`
		Mixed   *string          `json:"mixed"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Servers) != 2 || out.Servers[0]["declares_smear"] != "yes" || out.Servers[1]["declares_smear"] != "no" ||
		out.Servers[0]["smear_policy"].(map[string]any)["policy"] != "noon-to-noon" || out.Mixed == nil ||
		!strings.Contains(*out.Mixed, "mix leap-smeared and unsmeared time") {
		t.Errorf("watch JSON: %s", stdout)
	}
	code, stdout, _ = runCapture("watch", addrs[0], addrs[1], "--for", "500ms", "--every", "250ms")
	if code != 0 || !strings.Contains(stdout, addrs[0]+" declares smeared time: leapsmear policy noon-to-noon") ||
		!strings.Contains(stdout, "next leap 2016-12-31T23:59:60Z: window 2016-12-31T12:00:00Z to 2017-01-01T12:00:00Z") ||
		!strings.Contains(stdout, "warning: the servers mix") {
		t.Errorf("watch text: exit %d\n%s", code, stdout)
	}
}
