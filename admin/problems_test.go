package admin

import (
	"encoding/json"
	"html"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/leapsmear/leapsmear/daemon"
	"github.com/leapsmear/leapsmear/timescale"
)

// The host clock states the tests inject, whatever this host's is.
func kernelUnsynced() (timescale.KernelState, error) {
	return timescale.KernelState{State: timescale.TimeError, Status: timescale.StatusUnsync}, nil
}

func kernelSynced() (timescale.KernelState, error) {
	return timescale.KernelState{State: timescale.TimeOK}, nil
}

// statusReport fetches and decodes /api/status.
func (s *testServer) statusReport(t *testing.T) Report {
	t.Helper()
	code, body := s.get(t, "/api/status")
	if code != http.StatusOK {
		t.Fatalf("/api/status: %d %s", code, body)
	}
	var r Report
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("/api/status: %v\n%s", err, body)
	}
	return r
}

var healthBanner = regexp.MustCompile(`(?s)<div id="health" class="health (ok|bad)">(.*?)</div>`)

// banner returns the status page's health banner: its class, its text and
// its list of problems, unescaped.
func (s *testServer) banner(t *testing.T) (class, text string, problems []string) {
	t.Helper()
	code, page := s.get(t, "/")
	m := healthBanner.FindStringSubmatch(page)
	if code != http.StatusOK || m == nil {
		t.Fatalf("status page %d without a health banner:\n%s", code, page)
	}
	for _, li := range regexp.MustCompile(`<li>(.*?)</li>`).FindAllStringSubmatch(m[2], -1) {
		problems = append(problems, html.UnescapeString(li[1]))
	}
	return m[1], html.UnescapeString(m[2]), problems
}

// TestSyncAssumedShown: with --assume-synced on a host whose clock adjtimex
// says is not synchronised, the gauge leapsmear_sync_assumed is 1, the
// status page says "assumed", /healthz says so and /api/status too; on a
// synchronised host the same option assumes nothing and nothing says so.
func TestSyncAssumedShown(t *testing.T) {
	requireFreshEmbedded(t)
	for _, c := range []struct {
		name    string
		kernel  func() (timescale.KernelState, error)
		assumed bool
	}{
		{"unsynchronised host", kernelUnsynced, true},
		{"synchronised host", kernelSynced, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := start(t, func(cfg *daemon.Config) { cfg.Source = timescale.Config{Kernel: c.kernel, AssumeSynced: true} })
			f := s.scrape(t)
			if v := value(t, f, "leapsmear_sync_assumed"); v != map[bool]float64{true: 1, false: 0}[c.assumed] {
				t.Errorf("leapsmear_sync_assumed %v, assumed %v", v, c.assumed)
			}
			if v := value(t, f, "leapsmear_synchronized"); v != 1 {
				t.Errorf("leapsmear_synchronized %v: clients get LI 0 either way", v)
			}
			code, body := s.get(t, "/healthz")
			said := strings.Contains(body, "on a clock assumed synchronised (adjtimex says it is not)")
			if code != http.StatusOK || said != c.assumed || c.assumed == strings.Contains(body, "on a synchronised clock") {
				t.Errorf("/healthz %d %q; assumed %v", code, body, c.assumed)
			}
			if r := s.statusReport(t); r.Clock.SyncAssumed != c.assumed || !r.Clock.Synchronized || !r.Healthy || len(r.Problems) != 0 {
				t.Errorf("/api/status clock %+v, healthy %v, problems %q", r.Clock, r.Healthy, r.Problems)
			}
			_, page := s.get(t, "/")
			if got := strings.Contains(page, `<dt>synchronised</dt><dd><span class="pill warn">assumed</span> (adjtimex: not synchronised)</dd>`); got != c.assumed {
				t.Errorf("status page says assumed: %v, want %v", got, c.assumed)
			}
			if class, text, _ := s.banner(t); class != "ok" || strings.Contains(text, "assumed") != c.assumed {
				t.Errorf("banner %s %q; assumed %v", class, text, c.assumed)
			}
		})
	}
}

// TestEveryProblemWorstFirst: a host clock that is not synchronised (LI=3:
// every client rejects the server) and an expired table are both listed,
// the LI=3 one first, by /healthz, the status page's banner and
// /api/status alike.
func TestEveryProblemWorstFirst(t *testing.T) {
	expired := leapRoot + "testdata/leap-seconds.list" // expired 2026-06-28
	s := start(t, func(cfg *daemon.Config) {
		cfg.Source = timescale.Config{Kernel: kernelUnsynced}
		cfg.LeapFiles = []string{expired}
	})
	want := []string{
		"host clock is not synchronised (adjtimex): replies carry LI=3 and stratum 16, which every client rejects",
		"leap table " + expired + " expired on 2026-06-28T00:00:00Z",
	}
	check := func(where string, got []string) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s: %d problems, want %d: %q", where, len(got), len(want), got)
			return
		}
		for i, w := range want {
			if !strings.HasPrefix(got[i], w) {
				t.Errorf("%s: problem %d %q, want %q...", where, i, got[i], w)
			}
		}
	}

	code, body := s.get(t, "/healthz")
	if code != http.StatusServiceUnavailable {
		t.Errorf("/healthz %d", code)
	}
	check("/healthz", strings.Split(strings.TrimSuffix(body, "\n"), "\n"))
	// ?strict=0 forgives the expiry, not LI=3, and still names both.
	code, body = s.get(t, "/healthz?strict=0")
	if code != http.StatusServiceUnavailable {
		t.Errorf("/healthz?strict=0 %d", code)
	}
	check("/healthz?strict=0", strings.Split(strings.TrimSuffix(body, "\n"), "\n"))

	r := s.statusReport(t)
	if r.Healthy || r.Clock.Synchronized || r.Clock.SyncAssumed || r.LeapIndicator != 3 {
		t.Errorf("/api/status healthy %v, clock %+v, LI %d", r.Healthy, r.Clock, r.LeapIndicator)
	}
	check("/api/status", r.Problems)

	class, _, problems := s.banner(t)
	if class != "bad" {
		t.Errorf("banner class %q", class)
	}
	check("banner", problems)
	if !slices.Equal(problems, r.Problems) {
		t.Errorf("banner %q, /api/status %q", problems, r.Problems)
	}
}
