package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/client"
	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/ntp"
	"github.com/leapsmear/leapsmear/smear"
)

// offsetAt runs `leapsmear offset` for one policy and instant and returns
// its served time (POSIX ns), offset and leap indicator.
func offsetAt(t *testing.T, policy string, at leap.Label) (served int64, offset time.Duration, li int) {
	t.Helper()
	code, out, errOut := runCmd(t, "offset", "--policy", policy, "--leap", "2016-12-31", "--at", at.String(), "--json")
	if code != 0 {
		t.Fatalf("offset --at %s: %s", at, errOut)
	}
	var rows []struct {
		Served   time.Time `json:"served"`
		OffsetNs int64     `json:"offset_ns"`
		LI       int       `json:"li"`
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 1 {
		t.Fatalf("offset: %v in %s", err, out)
	}
	return rows[0].Served.UnixNano(), time.Duration(rows[0].OffsetNs), rows[0].LI
}

// TestServeListenersThroughLeap runs one process with a stepping and a
// smearing listener (set as HOST:PORT=POLICY), replaying the 2016 leap
// second from 23:59:58, and queries both every 50 ms through it. Every
// reply of the smearing listener is on the policy's curve to the
// nanosecond: its receive timestamp is what `leapsmear offset` computes for
// the instant it was served at, and its reference ID carries that offset
// (--refid-smear draft) exactly while it is not zero. The stepping listener
// serves true UTC, announces the leap (LI 1) until it is over and then not,
// and its offset from the local clock drops by one second, once; the
// smearing one's never jumps.
func TestServeListenersThroughLeap(t *testing.T) {
	t.Parallel()
	addrs, summary, _ := serveInProcessAll(t, "--listen", "127.0.0.1:0=step", "--listen", "127.0.0.1:0=noon-to-noon",
		"--time-offset-to", "2016-12-31T23:59:58Z", "--assume-synced", "--sockets", "1", "--refid-smear", "draft")
	if len(addrs) != 2 {
		t.Fatalf("serving %v", addrs)
	}
	want := []any{addrs[0] + "=step", addrs[1] + "=noon-to-noon"}
	if fmt.Sprint(summary["listeners"]) != fmt.Sprint(want) || summary["refid_smear"] != "draft" || summary["policy"] != "step" {
		t.Errorf("summary %v", summary)
	}
	tbl := leap.Default()
	n2n, _ := smear.Parse("noon-to-noon")
	sm, err := smear.New(tbl, n2n)
	if err != nil {
		t.Fatal(err)
	}
	refid, _ := ntp.RefIDFromString("LSMR")
	var lastStep, lastSmear, lastStepDelay, lastSmearDelay time.Duration
	steps, announced, smeared, after := 0, 0, 0, 0
	ctx := context.Background()
	for start := time.Now(); time.Since(start) < 4500*time.Millisecond; time.Sleep(50 * time.Millisecond) {
		st, err := client.Query(ctx, addrs[0], client.Options{Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		sr, err := client.Query(ctx, addrs[1], client.Options{Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		// The smearing listener: on the curve, to the nanosecond.
		s := sr.Header.Receive.UnixNano(sr.T1.UnixNano())
		x := sm.Unsmear(smear.Time(s))
		served, off, li := offsetAt(t, "noon-to-noon", tbl.LabelFromTAI(x))
		if served != s || li != 0 || sr.Header.Leap != 0 {
			t.Fatalf("smearing listener served %s (LI %d); offset says %s at %s (LI %d)", time.Unix(0, s).UTC().Format(time.RFC3339Nano),
				sr.Header.Leap, time.Unix(0, served).UTC().Format(time.RFC3339Nano), tbl.LabelFromTAI(x), li)
		}
		got, marked := ntp.SmearFromRefID(sr.Header.ReferenceID)
		if marked != (off != 0) || marked && (got-off).Abs() > 120 || !marked && sr.Header.ReferenceID != refid {
			t.Fatalf("smearing listener at offset %v: refid %s", off, ntp.FormatRefID(sr.Header.ReferenceID, 2))
		}
		if off != 0 {
			smeared++
		}
		// The stepping listener: true UTC, the leap announced until done.
		u := st.Header.Receive.UnixNano(st.T1.UnixNano())
		inLeapDay := u < time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
		if st.Header.ReferenceID != refid {
			t.Errorf("stepping listener's refid %s", ntp.FormatRefID(st.Header.ReferenceID, 2))
		}
		switch {
		case inLeapDay && st.Header.Leap == ntp.LeapInsert:
			announced++
		case !inLeapDay && st.Header.Leap == ntp.LeapNone:
			after++
		case inLeapDay:
			t.Errorf("stepping listener at %s: no leap announced", time.Unix(0, u).UTC().Format(time.RFC3339Nano))
		default:
			t.Errorf("stepping listener at %s: LI %d", time.Unix(0, u).UTC().Format(time.RFC3339Nano), st.Header.Leap)
		}
		// Between two rounds an offset moves by what the server served
		// (a 1 s step, or 11.6 ppm of the 50 ms between them), to within
		// what the exchanges' delays allow.
		if lastStep != 0 {
			if d := st.Offset - lastStep; !ntptest.OffsetWithin(d, 0, st.Delay+lastStepDelay) {
				steps++
				t.Logf("stepping listener stepped by %v", d)
				if !ntptest.OffsetWithin(d, -time.Second, st.Delay+lastStepDelay) {
					t.Errorf("stepping listener jumped by %v", d)
				}
			}
			if d := sr.Offset - lastSmear; !ntptest.OffsetWithin(d, 0, sr.Delay+lastSmearDelay) {
				t.Errorf("smearing listener jumped by %v", d)
			}
		}
		lastStep, lastSmear, lastStepDelay, lastSmearDelay = st.Offset, sr.Offset, st.Delay, sr.Delay
	}
	t.Logf("%d replies announcing the leap, %d after it; %d smeared replies", announced, after, smeared)
	if steps != 1 || announced == 0 || after == 0 || smeared == 0 {
		t.Errorf("%d steps, %d announcing, %d after, %d smeared: the replay did not cross the leap", steps, announced, after, smeared)
	}
}

// TestServeListenFlags: listen addresses with policies in flags and in the
// config file's listen list, and the mistakes in them.
func TestServeListenFlags(t *testing.T) {
	conf := writeConfig(t, `listen = ["127.0.0.1:0=quadratic-17h", "127.0.0.1:0"]
policy = "step"
v5-smear-policy = "linear:-30s:61s"
assume-synced = true
sockets = 1
`)
	addrs, summary, _ := serveInProcessAll(t, "--config", conf)
	if len(addrs) != 2 || fmt.Sprint(summary["listeners"]) != fmt.Sprintf("[%s=quadratic-17h %s=step]", addrs[0], addrs[1]) ||
		summary["v5_smear_policy"] != "linear:-30s:61s" {
		t.Errorf("summary %v", summary)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--listen", "127.0.0.1:0=bogus"}, `--listen 127.0.0.1:0=bogus: policy "bogus"`},
		{[]string{"--listen", "=step"}, "--listen =step: want host:port"},
		{[]string{"--listen", "127.0.0.1:11123=step", "--listen", "127.0.0.1:11123=noon-to-noon"}, "is listed twice"},
		{[]string{"--v5-smear-policy", "sideways"}, "--v5-smear-policy"},
		{[]string{"--refid-smear", "ntpd"}, `--refid-smear "ntpd": want off, draft`},
	} {
		code, stderr := runBounded(t, append([]string{"serve"}, c.args...)...)
		lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
		if code != 2 || len(lines) != 1 || !strings.Contains(lines[0], c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line containing %q", c.args, code, stderr, c.want)
		}
	}
}
