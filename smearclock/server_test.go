package smearclock_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/client"
	"github.com/leapsmear/leapsmear/daemon"
	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/server"
	"github.com/leapsmear/leapsmear/smear"
	"github.com/leapsmear/leapsmear/smearclock"
	"github.com/leapsmear/leapsmear/timescale"
)

func synced() (timescale.KernelState, error) {
	return timescale.KernelState{State: timescale.TimeOK}, nil
}

// TestAgreesWithServer replays the 2016 leap six hours before it, in a
// leapsmear server on loopback and in a Clock given the same offset, where
// the smear is 250 ms: NTP exchanges timed by the Clock find the server's
// receive and transmit timestamps between the Clock's send and receive
// times, so the two agree to the nanosecond within the measured round trip.
// The same exchanges timed by the unsmeared clock find it 250 ms off.
func TestAgreesWithServer(t *testing.T) {
	policy, err := smear.Parse("noon-to-noon")
	if err != nil {
		t.Fatal(err)
	}
	// One whole-second offset for both, computed once, so that both replay
	// the same instant.
	offset := time.Until(time.Date(2016, 12, 31, 18, 0, 0, 0, time.UTC)).Truncate(time.Second)
	quiet := slog.New(slog.DiscardHandler)
	d, err := daemon.Start(context.Background(), daemon.Config{
		Server:        server.Config{Listen: []string{"127.0.0.1:0"}, SocketsPerAddress: 1},
		Policy:        policy,
		Source:        timescale.Config{TimeOffset: offset, Kernel: synced},
		Settings:      server.Settings{Stratum: 2, RefID: 0x4c534d52},
		Logger:        quiet,
		CheckInterval: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(context.Background()) }()
	t.Cleanup(func() { d.Close(); <-done })

	clock, err := smearclock.New(policy, nil, smearclock.Options{TimeOffset: offset, Kernel: synced, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer clock.Close()
	if off := clock.Offset(); off > -249_000_000 || off < -251_000_000 {
		t.Fatalf("the replay is not 6 h into the smear: offset %d ns", off)
	}

	ctx := context.Background()
	for i := range 20 {
		resp, err := client.Query(ctx, d.Addrs()[0], client.Options{Timeout: 5 * time.Second, LocalClock: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		// NTP timestamps resolve 2^-32 s: allow the rounding of each to ns.
		const ns = time.Nanosecond
		if resp.T2.Sub(resp.T1) < -ns || resp.T3.Sub(resp.T2) < 0 || resp.T4.Sub(resp.T3) < -ns {
			t.Errorf("exchange %d: server times %s, %s outside the clock's %s .. %s (offset %v, delay %v)", i,
				fmtT(resp.T2), fmtT(resp.T3), fmtT(resp.T1), fmtT(resp.T4), resp.Offset, resp.Delay)
		}
		if i == 0 {
			t.Logf("offset %v, round trip %v", resp.Offset, resp.Delay)
		}
		// True UTC at the server's transmit time is 250 ms later.
		if got := clock.Unsmear(resp.T3).Time.Sub(resp.T3); got < 249*time.Millisecond || got > 251*time.Millisecond {
			t.Errorf("unsmeared %v later, want 250 ms", got)
		}
	}

	// The control: the host clock shifted alike but not smeared.
	plain := func() time.Time { return time.Now().Add(offset) }
	resp, err := client.Query(ctx, d.Addrs()[0], client.Options{Timeout: 5 * time.Second, LocalClock: plain})
	if err != nil {
		t.Fatal(err)
	}
	if ntptest.OffsetWithin(resp.Offset, 0, resp.Delay) || !ntptest.OffsetWithin(resp.Offset, -250*time.Millisecond, resp.Delay) {
		t.Errorf("an unsmeared clock: offset %v (delay %v), want -250 ms", resp.Offset, resp.Delay)
	}
}

func fmtT(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
