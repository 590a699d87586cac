package server

import (
	"context"
	"log/slog"
	"testing"
	"time"

	beevik "github.com/beevik/ntp"

	"github.com/leapsmear/leapsmear/client"
	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/smear"
	"github.com/leapsmear/leapsmear/timescale"
)

// TestServeListenersV5 runs one server with two listeners on one replayed
// clock (2016-12-31T18:00Z, a quarter into the noon-to-noon smear): a
// stepping one and a smearing one. Our NTPv4 client sees each listener's
// policy; github.com/beevik/ntp's NTPv5 client (draft-ietf-ntp-ntpv5-09)
// gets UTC, TAI and leap-smeared UTC from each as asked (the stepping
// listener, with no NTPv5 smear policy, answers UTC to a smeared request and
// says so), each offset within the bound its round trip allows; the
// counters are per listener.
func TestServeListenersV5(t *testing.T) {
	tbl := leap.Default()
	src, err := timescale.New(timescale.Config{Table: tbl, TimeOffsetTo: mustTime(t, "2016-12-31T18:00:00Z"),
		AssumeSynced: true, CheckInterval: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = src.Close() })
	shift := leap.TAI(src.Stats().Shift)
	policies := []string{"step", "noon-to-noon"}
	var ls []Listener
	smears := map[string]Smears{}
	for _, name := range policies {
		p, _ := smear.Parse(name)
		sm, err := NewSmears(tbl, p, nil)
		if err != nil {
			t.Fatal(err)
		}
		smears[name] = sm
		ls = append(ls, Listener{Addr: "127.0.0.1:0", Responder: NewResponderSmears(src, sm, testSettings, nil)})
	}
	srv, err := New(context.Background(), Config{Listeners: ls, SocketsPerAddress: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	serve(t, srv)

	for i, name := range policies {
		addr := srv.Addrs()[i].String()
		sm := smears[name]
		resp, err := client.Query(context.Background(), addr, client.Options{Timeout: 2 * time.Second})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := sm.Policy.Served(tbl.TAIFromTime(resp.T1.Add(resp.T4.Sub(resp.T1)/2)) + shift).Time().Sub(resp.T1.Add(resp.T4.Sub(resp.T1) / 2))
		if !ntptest.OffsetWithin(resp.Offset, want, resp.Delay) || resp.Header.Leap != uint8(sm.Policy.LI(tbl.TAIFromTime(time.Now())+shift)) {
			t.Errorf("%s, NTPv4: offset %v LI %d, want %v", name, resp.Offset, resp.Header.Leap, want)
		}
		for _, c := range []struct {
			ask, want beevik.Timescale
		}{
			{beevik.TimescaleUTC, beevik.TimescaleUTC},
			{beevik.TimescaleTAI, beevik.TimescaleTAI},
			{beevik.TimescaleUTCSmeared, map[string]beevik.Timescale{"step": beevik.TimescaleUTC, "noon-to-noon": beevik.TimescaleUTCSmeared}[name]},
		} {
			b, err := beevik.QueryWithOptions(addr, beevik.QueryOptions{Version: 5, Timescale: c.ask, Timeout: 2 * time.Second,
				RequestSupportedVersions: true})
			if err != nil {
				t.Fatalf("%s, NTPv5 %v: %v", name, c.ask, err)
			}
			if err := b.Validate(); err != nil {
				t.Errorf("%s, NTPv5 %v: beevik rejects the reply: %v", name, c.ask, err)
			}
			mid := b.Timestamps.ClientXmit.Add(b.Timestamps.ClientRecv.Sub(b.Timestamps.ClientXmit) / 2)
			x := tbl.TAIFromTime(mid) + shift
			var on int64
			switch c.want {
			case beevik.TimescaleTAI:
				on = int64(x)
			case beevik.TimescaleUTCSmeared:
				on = int64(sm.Smeared.Served(x))
			default:
				on = int64(sm.UTC.Served(x))
			}
			wantOff := time.Unix(0, on).Sub(mid)
			wantLeap := beevik.LeapNoWarning
			if c.want == beevik.TimescaleUTC {
				wantLeap = beevik.LeapAddSecond // 18:00 on the leap day
			}
			t.Logf("%s, NTPv5 %v: served %v, offset %v (want %v), rtt %v, leap %v, versions %v", name, c.ask, b.Timescale, b.ClockOffset, wantOff, b.RTT, b.Leap, b.SupportedVersions)
			if b.Timescale != c.want || b.Leap != wantLeap || b.Version != 5 || b.Stratum != testSettings.Stratum ||
				len(b.SupportedVersions) != 3 || b.SupportedVersions[2] != 5 {
				t.Errorf("%s, NTPv5 %v: %+v", name, c.ask, b)
			}
			if !ntptest.OffsetWithin(b.ClockOffset, wantOff, b.RTT) {
				t.Errorf("%s, NTPv5 %v: offset %v, want %v (rtt %v)", name, c.ask, b.ClockOffset, wantOff, b.RTT)
			}
		}
	}
	ls2 := srv.Listeners()
	for i, l := range ls2 {
		if l.Addr != srv.Addrs()[i] || l.Responder.Smear().Policy().Name != policies[i] || l.Received != 4 ||
			l.Verdicts[Answered] != 1 || l.AnsweredV5() != 3 || l.Verdicts[AnsweredV5TAI] != 1 {
			t.Errorf("listener %d: %+v", i, l)
		}
	}
	if ls2[0].Verdicts[AnsweredV5UTC] != 2 || ls2[1].Verdicts[AnsweredV5Smeared] != 1 {
		t.Errorf("timescales served: %v %v", ls2[0].Verdicts, ls2[1].Verdicts)
	}
	if st := srv.Stats(); st.Received != 8 || st.Answered() != 8 {
		t.Errorf("server %+v", st)
	}
	if srv.Responder() != ls[0].Responder {
		t.Error("Responder is not the first listener's")
	}
	if _, err := New(context.Background(), Config{Listen: []string{"127.0.0.1:0"}}, nil); err == nil {
		t.Error("a listen address without a responder was bound")
	}
}
