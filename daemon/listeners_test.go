package daemon

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/client"
	"github.com/leapsmear/leapsmear/internal/option"
	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/ntp"
	"github.com/leapsmear/leapsmear/smear"
	"github.com/leapsmear/leapsmear/timescale"
)

func mustPolicy(t *testing.T, name string) smear.Policy {
	t.Helper()
	p, err := smear.Parse(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseListener(t *testing.T) {
	for _, c := range []struct {
		in, addr, policy string
	}{
		{"127.0.0.1:123", "127.0.0.1:123", ""},
		{"127.0.0.1:123=step", "127.0.0.1:123", "step"},
		{"[::1]:11123=noon-to-noon", "[::1]:11123", "noon-to-noon"},
		{":123=linear:-30s:61s", ":123", "linear:-30s:61s"},
	} {
		l, err := ParseListener(c.in)
		if err != nil || l.Addr != c.addr || l.Policy.Name != c.policy || l.String() != c.in {
			t.Errorf("%q: %+v %v", c.in, l, err)
		}
	}
	for _, bad := range []string{"", "=step", "127.0.0.1:123=", "127.0.0.1:123=bogus", "nonsense=step", "127.0.0.1:123=linear:0s:0s"} {
		_, err := ParseListener(bad)
		if oe, ok := option.As(err); !ok || oe.Name != "listen" || oe.Value != bad {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// TestListenersValidate: two listeners on one address, a bad policy of a
// listener, a bad NTPv5 policy and an unknown reference ID convention are
// refused, named by their options.
func TestListenersValidate(t *testing.T) {
	base, _ := config(t)
	bad := mustPolicy(t, "noon-to-noon")
	bad.Length = -time.Hour
	for _, c := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) {
			c.Server.Listen = []string{"127.0.0.1:11123"}
			c.Listeners = []Listener{{Addr: "127.0.0.1:11123", Policy: mustPolicy(t, "step")}}
		}, "listen 127.0.0.1:11123=step: 127.0.0.1:11123 is listed twice"},
		{func(c *Config) { c.Listeners = []Listener{{Addr: "127.0.0.1:0", Policy: bad}} }, "listen 127.0.0.1:0=noon-to-noon: policy noon-to-noon"},
		{func(c *Config) { c.Server.Listen, c.Listeners = nil, nil }, "listen: give at least one address"},
		{func(c *Config) { c.V5Policy = &bad }, "v5-smear-policy noon-to-noon:"},
		{func(c *Config) { c.Settings.RefIDSmear = 7 }, "refid-smear unknown: want off, draft or chrony"},
	} {
		cfg := base
		c.edit(&cfg)
		err := cfg.WithDefaults().Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
	// Port 0 twice is two free ports: fine.
	cfg := base
	cfg.Listeners = []Listener{{Addr: "127.0.0.1:0"}}
	if err := cfg.WithDefaults().Validate(); err != nil {
		t.Error(err)
	}
}

// TestListeners: one daemon, one table and clock, a listener per policy
// (Server.Listen with Config.Policy, then Listeners with their own or the
// default). Each serves its policy to an NTPv4 client, shows its own time
// and counters in Status, logs its own window edges naming its address, and
// all of them pick up a reloaded table.
func TestListeners(t *testing.T) {
	clock := timescale.NewManualClock(time.Date(2016, 12, 31, 11, 59, 59, 0, time.UTC))
	cfg, logs := config(t)
	cfg.Source.Clock = clock
	cfg.Source.CheckInterval = -1
	cfg.CheckInterval = -1
	cfg.Policy = mustPolicy(t, "linear:-30s:61s")
	cfg.Listeners = []Listener{{Addr: "127.0.0.1:0", Policy: mustPolicy(t, "step")}, {Addr: "127.0.0.1:0"}}
	short := mustPolicy(t, "linear:-10s:20s")
	cfg.V5Policy = &short
	dir := t.TempDir()
	file := filepath.Join(dir, "leap-seconds.list")
	copyFile(t, olderList, file)
	cfg.LeapFiles = []string{file}
	d := start(t, cfg)
	if len(d.Addrs()) != 3 {
		t.Fatalf("addresses %v", d.Addrs())
	}
	tbl := leap.Default()
	names := []string{"linear:-30s:61s", "step", "linear:-30s:61s"}
	// At 23:59:45, inside the 61 s window and the v5 one, 15 s before the leap.
	clock.Advance(12*time.Hour - 14*time.Second)
	x := tbl.TAIFromTime(time.Date(2016, 12, 31, 23, 59, 45, 0, time.UTC))
	for i, a := range d.Addrs() {
		resp, err := client.Query(context.Background(), a, client.Options{Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		s, err := smear.New(tbl, mustPolicy(t, names[i]))
		if err != nil {
			t.Fatal(err)
		}
		// The manual clock is far from the kernel's receive timestamps:
		// the reply carries the clock's reading exactly.
		if resp.Header.Receive != ntp.TimestampFromUnixNano(int64(s.Served(x))) || resp.Header.Leap != uint8(s.LI(x)) {
			t.Errorf("listener %d (%s): receive %v LI %d", i, names[i], resp.Header.Receive.Time(resp.T1).Sub(s.Served(x).Time()), resp.Header.Leap)
		}
	}
	st := d.Status()
	if len(st.Listeners) != 3 || st.V5Policy == nil || st.V5Policy.Name != short.Name {
		t.Fatalf("status listeners %+v", st.Listeners)
	}
	for i, l := range st.Listeners {
		if l.Addr != d.Addrs()[i] || l.Smear.Policy().Name != names[i] || l.Packets.Received != 1 || l.Packets.Answered() != 1 ||
			l.V5Smear == nil || l.V5Smear.Policy().Name != short.Name {
			t.Errorf("listener %d: %+v", i, l)
		}
		if wantIn := names[i] != "step"; l.InWindow != wantIn || l.Offset == 0 != (names[i] == "step") || l.LI != map[bool]int{true: 1, false: 0}[names[i] == "step"] {
			t.Errorf("listener %d (%s): in window %v offset %v LI %d", i, names[i], l.InWindow, l.Offset, l.LI)
		}
	}
	if st.Smear.Policy().Name != names[0] || st.Packets.Received != 3 {
		t.Errorf("top-level status: %s, %d received", st.Smear.Policy().Name, st.Packets.Received)
	}
	d.Check()
	clock.Advance(time.Minute)
	d.Check()
	opened, closed, stepped := logs.records(t, "leap window opened"), logs.records(t, "leap window closed"), logs.records(t, "leap second stepped")
	if len(opened) != 2 || len(closed) != 2 || len(stepped) != 1 {
		t.Fatalf("opened %v\nclosed %v\nstepped %v", opened, closed, stepped)
	}
	if closed[0]["listen"] != d.Addrs()[0] || closed[1]["listen"] != d.Addrs()[2] || stepped[0]["listen"] != d.Addrs()[1] {
		t.Errorf("closed %v, stepped %v", closed, stepped)
	}
	// A reload swaps every listener's smears.
	before := d.Status().Listeners
	copyFile(t, currentList, file)
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	for i, l := range d.Status().Listeners {
		if l.Smear == before[i].Smear || l.Smear.Table().Expires.Year() != 2027 || l.Smear.Policy().Name != names[i] {
			t.Errorf("listener %d after the reload: %v", i, l.Smear.Table().Expires)
		}
	}
	summary := logs.records(t, "serving")
	if len(summary) != 1 || len(summary[0]["listeners"].([]any)) != 3 || summary[0]["v5_smear_policy"] != short.Name {
		t.Errorf("summary %v", summary)
	}
}

// TestListenersAdopt: a leap adopted from the leap sources reaches every
// listener: each serves its own policy of the table with the leap, and the
// NTPv5 UTC of each announces it.
func TestListenersAdopt(t *testing.T) {
	d, _, _ := startManualWith(t, utc("2027-12-31T06:00:00Z"), "noon-to-noon", func(c *Config) {
		c.Source.Kernel = func() (timescale.KernelState, error) { return timescale.KernelState{State: timescale.TimeOK}, nil }
		c.LeapSources = LeapSources{Upstreams: announcing(t, 2, ntp.LeapInsert), Adopt: 2, Timeout: 2 * time.Second}
		c.Listeners = []Listener{{Addr: "127.0.0.1:0", Policy: mustPolicy(t, "step")}}
	})
	d.CheckLeapSources(context.Background())
	want, err := leap.Default().WithAdopted(utc("2028-01-01T00:00:00Z"), 1)
	if err != nil {
		t.Fatal(err)
	}
	x := want.TAIFromTime(utc("2027-12-31T18:00:00Z"))
	st := d.Status()
	if len(st.Listeners) != 2 {
		t.Fatalf("%d listeners", len(st.Listeners))
	}
	for i, name := range []string{"noon-to-noon", "step"} {
		s, err := smear.New(want, mustPolicy(t, name))
		if err != nil {
			t.Fatal(err)
		}
		l := d.srv.Listeners()[i].Responder.Smears()
		if l.Policy.Served(x) != s.Served(x) || l.UTC.LI(x) != smear.LIInsert || l.Policy.Policy().Name != name {
			t.Errorf("listener %d (%s) after the adoption: served %v, want %v; NTPv5 UTC LI %d", i, name,
				l.Policy.Served(x).Time(), s.Served(x).Time(), l.UTC.LI(x))
		}
	}
}
