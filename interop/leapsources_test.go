package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/admin"
	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/leapcheck"
)

// The instants of the leap-source scenarios: the last day of 2027, after the
// built-in table expired (2027-06-28), and the midnight after it, where the
// upstreams rehearse a leap second (LI names the end of the month).
const (
	lastDay2027 = "2027-12-31T12:00:00Z"
	leap2028    = "2028-01-01T00:00:00Z"
)

// The leap-source check of the servers under test runs every checkEvery on
// the last day of a month; each source gets sourceTimeout. A verdict is
// waited for at most checkDeadline: the check at start plus many more.
const (
	checkEvery    = 200 * time.Millisecond
	sourceTimeout = time.Second
	checkDeadline = sourceTimeout + 20*checkEvery
)

// getStatus reads /api/status of a server started with --admin 127.0.0.1:0.
func getStatus(t *testing.T, s *server) admin.Report {
	t.Helper()
	body := s.adminGet(t, "/api/status")
	var r admin.Report
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("/api/status: %v\n%s", err, body)
	}
	return r
}

// waitVerdict polls /api/status until the last leap-source comparison has
// the verdict want, for at most checkDeadline, and returns it.
func waitVerdict(t *testing.T, s *server, want string) admin.Report {
	t.Helper()
	deadline := time.Now().Add(checkDeadline)
	for {
		r := getStatus(t, s)
		if l := r.LeapSources.Last; l != nil && l.Verdict.String() == want {
			return r
		}
		if time.Now().After(deadline) {
			j, _ := json.MarshalIndent(r.LeapSources, "", "  ")
			t.Fatalf("no verdict %s within %s; leap_sources:\n%s", want, checkDeadline, j)
		}
		time.Sleep(checkEvery / 4)
	}
}

const ins2027 = "2027-12-31 +1 " + leap2028

// TestLeapSourcesProcesses: every server is a `leapsmear serve` process, all
// replaying 2027-12-31T12:00Z, after the built-in table expired. Upstreams A
// and B rehearse a leap at the end of 2027 with the step policy, so they
// announce LI=1 all that day; upstream C is a plain server and announces
// nothing.
//   - agree: server D, rehearsing the same leap (step policy: no window
//     before the leap, so no jump at start), compares A, B and C with its
//     table: agree (/api/status and the verdict metric), A and B announcing
//     the leap, C read and announcing nothing.
//   - adopt: server E, with the expired built-in table and quadratic-17h (its
//     window opens at the leap), adopts the leap A and B announce
//     (--adopt-announced-leaps 2): logged, in /api/status as adopted and as
//     its next leap; its verdict stays unknown-leap; it serves exactly the
//     policy's time for the adopted table.
//   - leaps: `leapsmear leaps --json --at` the same instant with A, B and C
//     exits 1 with unknown-leap, naming A and B as announcing the leap.
func TestLeapSourcesProcesses(t *testing.T) {
	t.Parallel()
	rehearsing := []string{"--policy", "step", "--rehearse", leap2028 + ",+1", "--time-offset-to", lastDay2027}
	a, b := startServer(t, rehearsing...), startServer(t, rehearsing...)
	c := startServer(t, "--time-offset-to", lastDay2027)
	ntpA, ntpB, ntpC := "ntp "+a.addr, "ntp "+b.addr, "ntp "+c.addr
	checking := []string{"--admin", "127.0.0.1:0", "--time-offset-to", lastDay2027, "--kernel=false",
		"--leap-check-last-day", checkEvery.String(), "--source-timeout", sourceTimeout.String()}

	t.Run("agree", func(t *testing.T) {
		t.Parallel()
		// The step policy: no smear window before the leap.
		d := startServer(t, append(slices.Clone(checking), "--policy", "step", "--rehearse", leap2028+",+1",
			"--upstream", a.addr, "--upstream", b.addr, "--upstream", c.addr)...)
		st := waitVerdict(t, d, "agree")
		j := st.LeapSources.Last
		if j.Leap.String() != ins2027 || !j.Table.Expired || !strings.HasPrefix(j.At, "2027-12-31T12:") {
			t.Errorf("leap %v, table %+v, at %s; want the 2027 leap, the built-in table expired, at the replayed instant",
				j.Leap.String(), j.Table, j.At)
		}
		if len(j.Sources) != 4 || j.Sources[0].Kind != "table" || j.Sources[0].Announces.String() != ins2027 {
			t.Errorf("sources %+v: want the table (with the rehearsal leap) and the three upstreams", j.Sources)
		}
		for name, want := range map[string]string{ntpA: ins2027, ntpB: ins2027, ntpC: ""} {
			if s, ok := j.Source(name); !ok || !s.OK || s.Error != nil || s.Kind != "ntp" || s.Announces.String() != want {
				t.Errorf("%s: %+v, announces %q; want read, announcing %q", name, s, s.Announces.String(), want)
			}
		}
		m := metrics(t, d)
		label := func(n string) string { return fmt.Sprintf(`{kind="ntp",source=%q}`, n) }
		checkMetrics(t, "D", m, map[string]float64{
			`leapsmear_leap_sources_verdict{verdict="agree"}`:        1,
			`leapsmear_leap_sources_verdict{verdict="table-only"}`:   0,
			`leapsmear_leap_sources_verdict{verdict="unknown-leap"}`: 0,
			"leapsmear_leap_source_up" + label(ntpC):                 1,
			"leapsmear_leap_source_announced_sign" + label(ntpA):     1,
			"leapsmear_leap_source_announced_sign" + label(ntpB):     1,
			"leapsmear_leap_source_announced_sign" + label(ntpC):     0,
			"leapsmear_leap_adopted_leaps":                           0,
		})
		if m["leapsmear_leap_sources_checks_total"] < 1 {
			t.Errorf("leapsmear_leap_sources_checks_total %v", m["leapsmear_leap_sources_checks_total"])
		}
	})

	t.Run("adopt", func(t *testing.T) {
		t.Parallel()
		const policy = "quadratic-17h"
		e := startServer(t, append(slices.Clone(checking), "--policy", policy,
			"--upstream", a.addr, "--upstream", b.addr, "--adopt-announced-leaps", "2")...)
		if e.summary["expired"] != true {
			t.Errorf("summary %v: want the built-in table expired at the replayed instant", e.summary)
		}
		var rec map[string]any
		deadline := time.Now().Add(checkDeadline)
		for {
			if recs := records(t, e.logs.String(), "adopted an announced leap second"); len(recs) > 0 {
				rec = recs[0]
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no adoption logged within %s:\n%s", checkDeadline, e.logs)
			}
			time.Sleep(checkEvery / 4)
		}
		sources, _ := rec["sources"].([]any)
		if rec["level"] != "WARN" || rec["leap"] != "2027-12-31 +1" || rec["effective"] != leap2028 ||
			fmt.Sprint(sources) != fmt.Sprint([]any{ntpA, ntpB}) || rec["policy"] != policy {
			t.Errorf("adoption logged as %v", rec)
		}

		// The table as E serves it: the built-in one with the adopted leap.
		adopted, err := leap.Default().WithAdopted(time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC), 1)
		if err != nil {
			t.Fatal(err)
		}
		want := ntptest.Smear(t, adopted, policy)
		event := adopted.Events[len(adopted.Events)-1].String()
		ws := want.Windows()
		w := ws[len(ws)-1]
		opens, closes := adopted.LabelFromTAI(w.Start).String(), adopted.LabelFromTAI(w.End).String()
		if rec["window_opens"] != opens || rec["window_closes"] != closes {
			t.Errorf("adoption logged the window %v to %v, want %s to %s", rec["window_opens"], rec["window_closes"], opens, closes)
		}

		st := waitVerdict(t, e, "unknown-leap") // the comparison goes on against the table as loaded
		if !slices.Equal(st.Table.Adopted, []string{event}) || !slices.Equal(st.LeapSources.Adopted, []string{event}) ||
			st.LeapSources.AdoptQuorum != 2 || len(st.LeapSources.NotAdopted) != 0 || st.Healthy {
			t.Errorf("status: table.adopted %q, leap_sources adopted %q, quorum %d, not adopted %v, healthy %v; want %q adopted by a quorum of 2, unhealthy",
				st.Table.Adopted, st.LeapSources.Adopted, st.LeapSources.AdoptQuorum, st.LeapSources.NotAdopted, st.Healthy, event)
		}
		if n := st.NextLeap; n == nil || n.Leap != event || n.Synthetic || n.WindowOpens != opens || n.WindowCloses != closes {
			t.Errorf("next leap %+v, want %s with its window from %s to %s", n, event, opens, closes)
		}
		checkMetrics(t, "E", metrics(t, e), map[string]float64{
			"leapsmear_leap_adopted_leaps":                           1,
			`leapsmear_leap_sources_verdict{verdict="unknown-leap"}`: 1,
			"leapsmear_next_leap_scheduled":                          1,
		})

		// What E serves: its replay shift moves the host's TAI (this host's
		// clock maps to TAI through the built-in table, unexpired now) to the
		// replayed instant, and the policy smears the adopted table there.
		shift := shiftOf(t, e.summary)
		smp := best(context.Background(), t, e.addr, 3)
		x := leap.Default().TAIFromUnix(leap.UTCFromTime(smp.at)) + shift
		wantOffset := time.Duration(want.Served(x).UnixNano() - smp.at.UnixNano())
		t.Logf("E at %s: measured %v, predicted %v (policy %v), error %v, delay %v", adopted.LabelFromTAI(x),
			smp.resp.Offset, wantOffset, want.Offset(x), smp.resp.Offset-wantOffset, smp.resp.Delay)
		if !ntptest.OffsetWithin(smp.resp.Offset, wantOffset, smp.resp.Delay) {
			t.Errorf("E serves offset %v, want %v (delay %v)", smp.resp.Offset, wantOffset, smp.resp.Delay)
		}
	})

	t.Run("leaps", func(t *testing.T) {
		t.Parallel()
		code, stdout, stderr := runFailing(t, nil, "leaps", "--json", "--at", lastDay2027,
			"--upstream", a.addr, "--upstream", b.addr, "--upstream", c.addr, "--kernel=false")
		t.Logf("leapsmear leaps: exit %d\n%s%s", code, stdout, strings.Join(stderr, "\n"))
		var j leapcheck.Report
		if err := json.Unmarshal([]byte(stdout), &j); err != nil {
			t.Fatalf("output not JSON: %v", err)
		}
		if code != 1 || j.Verdict.String() != "unknown-leap" || j.Leap.String() != ins2027 || j.At != lastDay2027 ||
			!j.Table.Expired || j.Table.Expires == nil || *j.Table.Expires != "2027-06-28T00:00:00Z" {
			t.Errorf("exit %d, verdict %s, leap %q, at %s, table %+v; want 1, unknown-leap, %q, %s, the built-in table expired",
				code, j.Verdict, j.Leap.String(), j.At, j.Table, ins2027, lastDay2027)
		}
		if len(j.Sources) != 4 || j.Sources[0].Kind != "table" || j.Sources[0].Announces != nil {
			t.Errorf("sources %+v: want the table, announcing nothing, and the three upstreams", j.Sources)
		}
		for name, want := range map[string]string{ntpA: ins2027, ntpB: ins2027, ntpC: ""} {
			if s, ok := j.Source(name); !ok || !s.OK || s.Error != nil || s.Kind != "ntp" || s.Announces.String() != want {
				t.Errorf("%s: %+v, announces %q; want read, announcing %q", name, s, s.Announces.String(), want)
			}
		}
		if len(stderr) != 1 || !strings.Contains(stderr[0], "verdict unknown-leap") || !strings.Contains(stderr[0], ntpA+", "+ntpB+" announce") {
			t.Errorf("stderr %q: want one line naming the verdict and %s, %s", stderr, ntpA, ntpB)
		}
	})
}
