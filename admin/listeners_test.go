package admin

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	beevik "github.com/beevik/ntp"

	"github.com/leapsmear/leapsmear/daemon"
	"github.com/leapsmear/leapsmear/smear"
	"github.com/leapsmear/leapsmear/timescale"
)

// TestListenersReported: a server with a smearing and a stepping listener
// (replaying 2016-12-31T18:00Z) reports each with its policy, NTPv5 smear,
// time and counters in the metrics, /api/status and the status page; NTPv5
// replies are counted by timescale.
func TestListenersReported(t *testing.T) {
	step, _ := smear.Parse("step")
	s := start(t, func(c *daemon.Config) {
		c.Listeners = []daemon.Listener{{Addr: "127.0.0.1:0", Policy: step}}
		c.Source = timescale.Config{AssumeSynced: true, TimeOffsetTo: time.Date(2016, 12, 31, 18, 0, 0, 0, time.UTC)}
	})
	addrs := s.d.Addrs()
	if len(addrs) != 2 {
		t.Fatalf("addresses %v", addrs)
	}
	for _, c := range []struct {
		addr string
		ts   beevik.Timescale
	}{{addrs[0], beevik.TimescaleUTCSmeared}, {addrs[0], beevik.TimescaleTAI}, {addrs[1], beevik.TimescaleUTC}, {addrs[1], beevik.TimescaleUTCSmeared}} {
		if _, err := beevik.QueryWithOptions(c.addr, beevik.QueryOptions{Version: 5, Timescale: c.ts, Timeout: 2 * time.Second}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := beevik.QueryWithOptions(addrs[1], beevik.QueryOptions{Timeout: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	fams := s.scrape(t)
	if v := value(t, fams, "leapsmear_listener_info", "listen", addrs[0], "policy", "noon-to-noon", "v5_smear_policy", "noon-to-noon"); v != 1 {
		t.Errorf("listener 0 info %v", v)
	}
	if v := value(t, fams, "leapsmear_listener_info", "listen", addrs[1], "policy", "step", "window", "step", "v5_smear_policy", ""); v != 1 {
		t.Errorf("listener 1 info %v", v)
	}
	if off := value(t, fams, "leapsmear_listener_offset_seconds", "listen", addrs[0]); off > -0.249 || off < -0.251 {
		t.Errorf("smearing listener's offset %v s", off)
	}
	if off := value(t, fams, "leapsmear_listener_offset_seconds", "listen", addrs[1]); off != 0 {
		t.Errorf("stepping listener's offset %v s", off)
	}
	if li := value(t, fams, "leapsmear_listener_leap_indicator", "listen", addrs[1]); li != 1 {
		t.Errorf("stepping listener's LI %v on the leap day", li)
	}
	for _, c := range []struct {
		addr, verdict string
		want          float64
	}{{addrs[0], "answered_v5_smeared", 1}, {addrs[0], "answered_v5_tai", 1}, {addrs[1], "answered_v5_utc", 2}, {addrs[1], "answered", 1}, {addrs[0], "answered", 0}} {
		if v := value(t, fams, "leapsmear_listener_packets_total", "listen", c.addr, "verdict", c.verdict); v != c.want {
			t.Errorf("%s %s: %v, want %v", c.addr, c.verdict, v, c.want)
		}
	}
	for ts, want := range map[string]float64{"utc": 2, "tai": 1, "smeared": 1} {
		if v := value(t, fams, "leapsmear_v5_replies_total", "timescale", ts); v != want {
			t.Errorf("v5 replies in %s: %v, want %v", ts, v, want)
		}
	}

	code, body := s.get(t, "/api/status")
	if code != http.StatusOK {
		t.Fatal(code)
	}
	var r Report
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Listeners) != 2 || r.Listeners[0].Listen != addrs[0] || r.Listeners[1].Policy.Name != "step" ||
		r.Listeners[0].V5SmearPolicy == nil || *r.Listeners[0].V5SmearPolicy != "noon-to-noon" || r.Listeners[1].V5SmearPolicy != nil ||
		r.Listeners[1].LeapIndicator != 1 || !r.Listeners[0].InWindow || r.Listeners[1].InWindow || r.Listeners[0].NextLeap == nil ||
		r.Listeners[1].Requests.RepliesV5["utc"] != 2 || r.Requests.RepliesV5["smeared"] != 1 || r.Requests.Replies != 1 {
		t.Errorf("listeners %+v", r.Listeners)
	}
	if !strings.Contains(body, `"v5_smear_policy": null`) {
		t.Errorf("a listener without an NTPv5 smear is not null:\n%s", body)
	}

	code, page := s.get(t, "/")
	if code != http.StatusOK {
		t.Fatal(code)
	}
	for _, want := range []string{addrs[0], addrs[1], "none (UTC)", "NTPv5 replies (UTC · TAI · smeared)", `id="listeners"`} {
		if !strings.Contains(page, want) {
			t.Errorf("status page without %q", want)
		}
	}
}
