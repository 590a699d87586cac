package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/daemon"
	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/leapcheck"
	"github.com/leapsmear/leapsmear/ntp"
	"github.com/leapsmear/leapsmear/timescale"
)

// TestLeapSourcesSurfaces: replaying the last day of 2027 (the built-in
// table expired in June) with two upstreams announcing a leap and a quorum of
// 2, the leap is adopted; /api/status, the metrics, the status page and
// /healthz all say so.
func TestLeapSourcesSurfaces(t *testing.T) {
	var ups []string
	for range 2 {
		s := ntptest.Start(t, "udp4", "127.0.0.1", func(req ntp.Header) ntp.Header {
			h := ntptest.Reply(req, 0)
			h.Leap = ntp.LeapInsert
			return h
		})
		ups = append(ups, s.Addr)
	}
	s := start(t, func(cfg *daemon.Config) {
		cfg.Source.TimeOffsetTo = time.Date(2027, 12, 31, 6, 0, 0, 0, time.UTC)
		cfg.Source.Kernel = func() (timescale.KernelState, error) { return timescale.KernelState{}, nil }
		cfg.LeapSources = daemon.LeapSources{Upstreams: ups, Adopt: 2, Interval: -1}
	})
	var before Report
	if _, body := s.get(t, "/api/status"); json.Unmarshal([]byte(body), &before) != nil || before.LeapSources.Last != nil ||
		before.LeapSources.Checked != nil || before.LeapSources.Checks != 0 || !strings.Contains(body, `"last": null`) {
		t.Errorf("before the first check: %s", body)
	}
	s.d.CheckLeapSources(context.Background())

	_, body := s.get(t, "/api/status")
	var r Report
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	ls := r.LeapSources
	if ls.Last == nil || ls.Last.Verdict != leapcheck.UnknownLeap || ls.Last.Leap.Date != "2027-12-31" || ls.Checks != 1 || ls.AdoptQuorum != 2 ||
		len(ls.Adopted) != 1 || len(ls.Last.Sources) != 4 || !ls.Last.Table.Expired {
		t.Errorf("leap_sources %+v", ls)
	}
	if len(r.Table.Adopted) != 1 || !strings.Contains(r.Table.Adopted[0], "adopted") || r.Table.Leaps != 28 {
		t.Errorf("table %+v", r.Table)
	}

	fams := s.scrape(t)
	verdicts := map[string]float64{}
	for _, m := range fams["leapsmear_leap_sources_verdict"].GetMetric() {
		verdicts[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
	}
	if verdicts["unknown-leap"] != 1 || verdicts["agree"] != 0 || len(verdicts) != 5 {
		t.Errorf("verdict metric %v", verdicts)
	}
	signs := 0
	for _, m := range fams["leapsmear_leap_source_announced_sign"].GetMetric() {
		if m.GetGauge().GetValue() == 1 {
			signs++
		}
	}
	at := fams["leapsmear_leap_source_announced_leap_seconds"].GetMetric()
	if signs != 2 || len(at) != 2 || at[0].GetGauge().GetValue() != float64(time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC).Unix()) {
		t.Errorf("announced: %d signs, %v", signs, at)
	}
	if g := fams["leapsmear_leap_adopted_leaps"].GetMetric()[0].GetGauge().GetValue(); g != 1 {
		t.Errorf("adopted %v", g)
	}
	if n := len(fams["leapsmear_leap_source_up"].GetMetric()); n != 4 {
		t.Errorf("%d leap_source_up series", n)
	}

	_, page := s.get(t, "/")
	for _, want := range []string{`id="leap-sources"`, `<span class="pill bad">unknown-leap</span> 2027-12-31 (&#43;1)`, "adopted: 2027-12-31 23:59:60 &#43;1 (TAI-UTC 38, adopted)", "ntp " + ups[0]} {
		if !strings.Contains(page, want) {
			i := strings.Index(page, `id="leap-sources"`)
			t.Errorf("status page lacks %q:\n%s", want, page[i:min(len(page), i+2500)])
		}
	}
	if code, body := s.get(t, "/healthz?strict=0"); code != http.StatusServiceUnavailable || !strings.Contains(body, "unknown leap") {
		t.Errorf("/healthz: %d %s", code, body)
	}
}
