package daemon

import (
	"strings"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/leapcheck"
)

// TestProblemsWorstFirst: every problem is listed, worst first whatever
// reports it: an expired NTS certificate and an unknown leap (clients are
// failed) come before an expired table (stale), which comes before a failed
// reload, of the table or of NTS's files (warnings).
func TestProblemsWorstFirst(t *testing.T) {
	cfg, _ := config(t, expiredList)
	cfg.Source.Kernel = unsynced
	st := start(t, cfg).Status()
	st.ReloadError = "garbage in leap-seconds.list"
	st.NTS = &NTSStatus{CertNotAfter: st.Host.Add(-time.Hour), ReloadError: "no such file"}
	st.LeapSources.Result = &leapcheck.Result{Verdict: leapcheck.UnknownLeap,
		Problems: []string{"unknown leap: 2027-12-31 +1 announced by ntp 192.0.2.1 and ntp 192.0.2.2", "source ptp4l: cannot read it"}}

	want := []struct {
		sev    Severity
		prefix string
	}{
		{Failing, "host clock is not synchronised"},
		{Failing, "leap sources: unknown leap: 2027-12-31 +1"},
		{Failing, "the NTS-KE certificate expired on"},
		{Stale, "leap table " + expiredList + " expired on 2026-06-28"},
		{Warning, "leap sources: source ptp4l: cannot read it"},
		{Warning, "the last leap table reload failed"},
		{Warning, "the last reload of the NTS certificate"},
	}
	ps := st.Problems()
	if len(ps) != len(want) {
		t.Fatalf("%d problems, want %d: %+v", len(ps), len(want), ps)
	}
	for i, w := range want {
		if ps[i].Severity != w.sev || !strings.HasPrefix(ps[i].Text, w.prefix) {
			t.Errorf("problem %d: %d %q, want %d %q...", i, ps[i].Severity, ps[i].Text, w.sev, w.prefix)
		}
	}
	// Health says the same, in the same order, one a line.
	ok, reason := st.Health(true)
	lines := strings.Split(reason, "\n")
	if ok || len(lines) != len(want) {
		t.Fatalf("health %v:\n%s", ok, reason)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w.prefix) {
			t.Errorf("health line %d: %q, want %q...", i, lines[i], w.prefix)
		}
	}
}
