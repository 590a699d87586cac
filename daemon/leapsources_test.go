package daemon

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/leapcheck"
	"github.com/leapsmear/leapsmear/ntp"
	"github.com/leapsmear/leapsmear/server"
	"github.com/leapsmear/leapsmear/smear"
	"github.com/leapsmear/leapsmear/timescale"
)

// announcing starts n loopback NTP servers that set LI (1 inserts, 2
// deletes) and returns their addresses.
func announcing(t *testing.T, n int, li uint8) []string {
	var out []string
	for range n {
		s := ntptest.Start(t, "udp4", "127.0.0.1", func(req ntp.Header) ntp.Header {
			h := ntptest.Reply(req, 0)
			h.Leap = li
			return h
		})
		out = append(out, s.Addr)
	}
	return out
}

// startLeaps starts a daemon whose host clock reads at, comparing the
// built-in table with the given upstreams (and a kernel armed with
// kernelLeap), adopting with quorum adopt; the checks run only when the test
// calls them.
func startLeaps(t *testing.T, at time.Time, policy string, upstreams []string, kernelLeap int, adopt int) (*Daemon, *timescale.ManualClock, *logBuffer) {
	t.Helper()
	kernel := timescale.KernelState{State: timescale.TimeOK}
	switch kernelLeap {
	case 1:
		kernel.Status = timescale.StatusIns
	case -1:
		kernel.Status = timescale.StatusDel
	}
	return startManualWith(t, at, policy, func(c *Config) {
		c.Source.Kernel = func() (timescale.KernelState, error) { return kernel, nil }
		c.LeapSources = LeapSources{Upstreams: upstreams, Adopt: adopt, Timeout: 2 * time.Second}
	})
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestAdoptWithQuorum: the built-in table expired in June 2027; two
// upstreams announce a leap at the end of 2027 before the policy's window
// opens: with a quorum of 2 it is adopted and the served time is exactly the
// policy's smear of the table with that leap.
func TestAdoptWithQuorum(t *testing.T) {
	d, clock, logs := startLeaps(t, utc("2027-12-31T06:00:00Z"), "noon-to-noon", announcing(t, 2, ntp.LeapInsert), 0, 2)
	logs.take(t)
	r := d.CheckLeapSources(context.Background())
	if r.Verdict != leapcheck.UnknownLeap || r.Leap.String() != "2027-12-31 +1" {
		t.Fatalf("result %+v", r)
	}
	st := d.LeapSourcesStatus()
	if len(st.Adopted) != 1 || !st.Adopted[0].Adopted || st.Adopted[0].TAIUTC != 38 || st.Checks != 1 {
		t.Fatalf("status %+v", st)
	}
	msgs := messages(logs.take(t))
	if !strings.Contains(strings.Join(msgs, "\n"), "leap sources: adopted an announced leap second") {
		t.Errorf("logs %q", msgs)
	}
	// The served smear is the policy applied to the table with the leap.
	want, err := leap.Default().WithAdopted(utc("2028-01-01T00:00:00Z"), 1)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := smear.Parse("noon-to-noon")
	ws, err := smear.New(want, p)
	if err != nil {
		t.Fatal(err)
	}
	got := d.Smear()
	for _, at := range []string{"2027-12-31T06:00:00Z", "2027-12-31T12:00:00Z", "2027-12-31T18:00:00Z", "2028-01-01T00:00:00Z", "2028-01-01T06:00:00Z", "2028-01-01T12:00:01Z"} {
		x := want.TAIFromTime(utc(at))
		if got.Served(x) != ws.Served(x) || got.Offset(x) != ws.Offset(x) {
			t.Errorf("%s: served %d offset %s, want %d %s", at, got.Served(x), got.Offset(x), ws.Served(x), ws.Offset(x))
		}
	}
	// Half-way, at the new midnight, the served clock is half a second
	// ahead of true UTC, which has just repeated a second.
	if mid := ws.Offset(want.TAIFromTime(utc("2028-01-01T00:00:00Z"))); mid < 400*time.Millisecond || mid > 600*time.Millisecond {
		t.Errorf("offset at midnight %s, want about +0.5 s", mid)
	}
	// The source maps the host clock with the adopted table too, and the
	// daemon serves it: the served time now is the smear's.
	clock.Advance(9 * time.Hour) // 15:00, inside the window
	sst := d.Status()
	if !sst.InWindow || sst.Offset >= 0 || sst.Offset != ws.Offset(sst.TAI) {
		t.Errorf("status in the window: offset %s, want %s", sst.Offset, ws.Offset(sst.TAI))
	}
	// /healthz fails while the table is stale, and says the leap was adopted.
	ok, reason := sst.Health(false)
	if ok || !strings.Contains(reason, "unknown leap") || !strings.Contains(reason, "adopted the leap second 2027-12-31 23:59:60 +1 (TAI-UTC 38, adopted)") {
		t.Errorf("health %v %q", ok, reason)
	}
	// A second check adopts nothing more; a reload keeps the adoption.
	d.CheckLeapSources(context.Background())
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	if st := d.LeapSourcesStatus(); len(st.Adopted) != 1 || d.Smear().Offset(sst.TAI) != ws.Offset(sst.TAI) {
		t.Errorf("after a reload: adopted %v, offset %s", st.Adopted, d.Smear().Offset(sst.TAI))
	}
}

// TestNoAdoptionBelowQuorum: with a quorum of 3 and two announcing
// upstreams (the kernel and chronyd would count once together), nothing is
// adopted; the verdict stays unknown-leap and /healthz fails.
func TestNoAdoptionBelowQuorum(t *testing.T) {
	d, _, logs := startLeaps(t, utc("2027-12-31T06:00:00Z"), "noon-to-noon", announcing(t, 2, ntp.LeapInsert), 0, 3)
	logs.take(t)
	r := d.CheckLeapSources(context.Background())
	if r.Verdict != leapcheck.UnknownLeap || len(d.LeapSourcesStatus().Adopted) != 0 {
		t.Fatalf("verdict %s, adopted %v", r.Verdict, d.LeapSourcesStatus().Adopted)
	}
	if d.Smear().Table().Events[len(d.Smear().Table().Events)-1].Adopted {
		t.Error("the served table changed")
	}
	recs := logs.take(t)
	if len(recs) != 1 || recs[0]["level"] != "ERROR" || !strings.Contains(recs[0]["msg"].(string), "refresh the table") {
		t.Errorf("logs %v", recs)
	}
	if ok, _ := d.Status().Health(false); ok {
		t.Error("healthy with an unknown leap")
	}
	// The same verdict is not logged again.
	d.CheckLeapSources(context.Background())
	if recs := logs.take(t); len(recs) != 0 {
		t.Errorf("logged again: %v", recs)
	}
}

// TestNoAdoptionAfterWindowOpened: a leap learned after its window opened is
// not adopted (clients would jump), and the log says so.
func TestNoAdoptionAfterWindowOpened(t *testing.T) {
	d, _, logs := startLeaps(t, utc("2027-12-31T13:00:00Z"), "noon-to-noon", announcing(t, 2, ntp.LeapInsert), 1, 1)
	logs.take(t)
	before := d.Smear()
	r := d.CheckLeapSources(context.Background())
	if r.Verdict != leapcheck.UnknownLeap || d.Smear() != before || len(d.LeapSourcesStatus().Adopted) != 0 {
		t.Fatalf("verdict %s, adopted %v", r.Verdict, d.LeapSourcesStatus().Adopted)
	}
	all := strings.Join(messages(logs.take(t)), "\n")
	if !strings.Contains(all, "NOT adopted: its smear window has already opened") {
		t.Errorf("logs %s", all)
	}
	if st := d.LeapSourcesStatus(); !strings.Contains(st.Refused["2027-12-31 +1"], "window opened at 2027-12-31T12:00:00Z") {
		t.Errorf("refused %v", st.Refused)
	}
}

// TestFaultyNeverFollowed: the unexpired table rules out a leap at the end
// of 2026; three upstreams and the kernel announce it: faulty, counted, not
// adopted whatever the quorum, and /healthz stays ok.
func TestFaultyNeverFollowed(t *testing.T) {
	ups := announcing(t, 3, ntp.LeapInsert)
	d, _, _ := startLeaps(t, utc("2026-12-31T06:00:00Z"), "noon-to-noon", ups, 1, 1)
	for range 2 {
		if r := d.CheckLeapSources(context.Background()); r.Verdict != leapcheck.FaultySource || len(r.Faulty()) != 4 {
			t.Fatalf("result %+v", r)
		}
	}
	st := d.LeapSourcesStatus()
	if len(st.Adopted) != 0 || st.Faulty["ntp "+ups[0]] != 2 || st.Faulty["kernel"] != 2 {
		t.Errorf("status %+v", st)
	}
	if ok, reason := d.Status().Health(true); !ok || !strings.Contains(reason, "faulty source ntp "+ups[0]) {
		t.Errorf("health %v %q", ok, reason)
	}
}

// TestLeapChecksOnTheServedClock: replaying the last day of 2027 with
// --time-offset-to, the comparison judges the table on the replayed clock
// (expired) and reads the upstreams' LI as the end of December 2027; the
// periodic check runs by itself and stops on Close.
func TestLeapChecksOnTheServedClock(t *testing.T) {
	logs := &logBuffer{}
	p, _ := smear.Parse("noon-to-noon")
	d, err := Start(context.Background(), Config{
		Server: server.Config{Listen: []string{"127.0.0.1:0"}, SocketsPerAddress: 1},
		Policy: p,
		Source: timescale.Config{TimeOffsetTo: utc("2027-12-31T06:00:00Z"), AssumeSynced: true,
			Kernel: func() (timescale.KernelState, error) { return timescale.KernelState{}, nil }},
		Logger:      slog.New(slog.NewJSONHandler(logs, nil)),
		LeapSources: LeapSources{Upstreams: announcing(t, 1, ntp.LeapInsert), Interval: time.Hour, LastDayInterval: 20 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for d.LeapSourcesStatus().Checks < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("checks %d after 10 s", d.LeapSourcesStatus().Checks)
		}
		time.Sleep(10 * time.Millisecond)
	}
	d.Close()
	st := d.LeapSourcesStatus()
	r := st.Result
	if r.Verdict != leapcheck.UnknownLeap || !r.TableExpired || r.At.Before(utc("2027-12-31T06:00:00Z")) || r.At.After(utc("2027-12-31T07:00:00Z")) {
		t.Errorf("result at %s: %s, expired %v", r.At, r.Verdict, r.TableExpired)
	}
	if n := d.LeapSourcesStatus().Checks; n != st.Checks {
		t.Errorf("checks went on after Close: %d, then %d", st.Checks, n)
	}
}

func TestLeapSourcesValidate(t *testing.T) {
	for _, c := range []struct {
		cfg  LeapSources
		want string
	}{
		{LeapSources{Adopt: -1}, "adopt-announced-leaps -1"},
		{LeapSources{Upstreams: []string{""}}, "upstream"},
		{LeapSources{Upstreams: []string{"a b"}}, "upstream"},
		{LeapSources{LastDayInterval: -time.Second}, "leap-check-last-day"},
		{LeapSources{Timeout: -time.Second}, "source-timeout"},
	} {
		if err := c.cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
	}
	if err := (LeapSources{Upstreams: []string{"127.0.0.1:123"}, Adopt: 2}).Validate(); err != nil {
		t.Error(err)
	}
}
