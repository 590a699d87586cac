package watch

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/client"
	"github.com/leapsmear/leapsmear/daemon"
	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/internal/option"
	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/ntp"
	"github.com/leapsmear/leapsmear/server"
	"github.com/leapsmear/leapsmear/smear"
	"github.com/leapsmear/leapsmear/timescale"
)

// startDaemon serves a rehearsed leap on a loopback port, in process, as
// 'leapsmear serve --assume-synced --policy policy --rehearse at,sign' does.
func startDaemon(t *testing.T, policy string, at time.Time, sign int) string {
	t.Helper()
	p, err := smear.Parse(policy)
	if err != nil {
		t.Fatal(err)
	}
	d, err := daemon.Start(context.Background(), daemon.Config{
		Server:   server.Config{Listen: []string{"127.0.0.1:0"}, SocketsPerAddress: 1},
		Policy:   p,
		Rehearse: &leap.Rehearsal{At: at, Delta: sign},
		Source:   timescale.Config{AssumeSynced: true},
		Settings: server.Settings{Stratum: 2, RefID: ntp.RefIDFromAddr(netip.MustParseAddr("127.0.0.1"))},
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = d.Run(context.Background()); close(done) }()
	t.Cleanup(func() { d.Close(); <-done })
	return d.Addrs()[0]
}

// TestWatchRehearsedLeaps watches three servers on loopback through
// rehearsed leaps two seconds long, polled every 100 ms: a step and a
// linear smear inserting a second, and a linear smear deleting one.
func TestWatchRehearsedLeaps(t *testing.T) {
	if testing.Short() {
		t.Skip("watches for seven seconds")
	}
	at := time.Now().Truncate(time.Second).Add(3 * time.Second)
	servers := []string{
		startDaemon(t, "step", at, 1),
		startDaemon(t, "linear:-1s:2s", at, 1),
		startDaemon(t, "linear:0s:2s", at, -1),
	}
	rounds, mismatched := 0, 0
	// The deleted second's window closes 3 s after the leap in true UTC
	// (U = T+2s is UTC T+3s): watch two seconds beyond it, so that on a
	// loaded machine, where the spread leaves out the rounds with delays
	// beyond a server's margin, some rounds after it still compare all three.
	cfg := Config{Servers: servers, For: time.Until(at.Add(5 * time.Second)).Round(100 * time.Millisecond),
		Every: 100 * time.Millisecond, OnRound: func(r *Record) {
			if rounds++; len(r.Rounds) != rounds || r.Addrs[len(servers)-1] == "" {
				mismatched++
			}
		}}
	rec, err := Watch(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// A loaded machine may skip rounds (one that overran skips those that
	// fell due meanwhile): never more than planned.
	if len(rec.Rounds) != rounds || rounds < 1 || rounds > cfg.Rounds() {
		t.Errorf("%d rounds recorded, %d reported, %d planned", len(rec.Rounds), rounds, cfg.Rounds())
	}
	// Each offset is off by at most half its round trip (and 1 ms for
	// reading the clocks): the bounds below come from the longest.
	maxDelay := make([]time.Duration, len(servers))
	for _, rd := range rec.Rounds {
		for i, s := range rd.Samples {
			if s.Answered {
				maxDelay[i] = max(maxDelay[i], s.Delay)
			}
		}
	}
	if mismatched != 0 {
		t.Errorf("%d calls of OnRound saw a record without their round or the addresses", mismatched)
	}
	for i, s := range servers {
		if rec.Addrs[i] != s {
			t.Errorf("address %d: %s, want %s", i, rec.Addrs[i], s)
		}
	}
	sum := Summarize(rec, Options{Leap: at}, SpreadOptions{})
	want := []struct {
		class  Class
		policy string
		total  time.Duration
	}{{ClassStep, "step", time.Second}, {ClassSmear, "linear:-1s:2s", time.Second}, {ClassSmear, "linear:0s:2s", -time.Second}}
	for i, w := range want {
		s := sum.Servers[i]
		// The total is the difference of two offsets.
		if s.Class != w.class || s.Policy != w.policy || !ntptest.OffsetWithin(s.TotalOffset, w.total, 2*maxDelay[i]) {
			t.Errorf("%s: %s %q %v, want %s %q %v (round trips up to %v)", s.Server, s.Class, s.Policy, s.TotalOffset, w.class, w.policy, w.total, maxDelay[i])
		}
		if s.Answered != len(rec.Rounds) || s.Lost != 0 || s.Err != nil {
			t.Errorf("%s: answered %d lost %d of %d rounds (%v)", s.Server, s.Answered, s.Lost, len(rec.Rounds), s.Err)
		}
	}
	if got := sum.Servers[0].LeapIndicators; len(got) != 2 || got[1] != ntp.LeapInsert {
		t.Errorf("the step server's leap indicators %v: it announces the leap before it", got)
	}
	// Once all is over, the servers that inserted a second are 2 s behind
	// the one that deleted one.
	if !ntptest.OffsetWithin(sum.Spread.Max, 2*time.Second, 2*slices.Max(maxDelay)) {
		t.Errorf("spread %v at %s (leap at %s) over %d of %d rounds, want 2 s (round trips up to %v)", sum.Spread.Max, sum.Spread.At.Format(time.RFC3339Nano), at.Format(time.RFC3339Nano), sum.Spread.Rounds, len(rec.Rounds), maxDelay)
	}
}

// startFake starts a loopback NTP server answering as reply says.
func startFake(t *testing.T, reply func(req ntp.Header) ntp.Header) *ntptest.Server {
	t.Helper()
	return ntptest.Start(t, "udp4", "127.0.0.1", reply)
}

// goodReply answers as a synchronised server ahead by offset.
func goodReply(offset time.Duration) func(ntp.Header) ntp.Header {
	return func(req ntp.Header) ntp.Header { return ntptest.Reply(req, offset) }
}

// TestWatchKissAndSilence: a server that sends a RATE Kiss-o'-Death is not
// asked again; one where nothing listens fails every round; neither stops
// the watch of the others.
func TestWatchKissAndSilence(t *testing.T) {
	good := startFake(t, goodReply(250*time.Millisecond))
	kiss := startFake(t, func(req ntp.Header) ntp.Header {
		return ntp.Header{Leap: ntp.LeapUnsynchronised, Version: req.Version, Mode: ntp.ModeServer, Stratum: 0,
			ReferenceID: ntp.KissRATE, Origin: req.Transmit, Receive: req.Transmit, Transmit: req.Transmit}
	})
	closed := ntptest.ClosedPort(t)

	rec, err := Watch(context.Background(), Config{Servers: []string{good.Addr, kiss.Addr, closed}, For: 500 * time.Millisecond, Every: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Rounds) != 6 {
		t.Fatalf("%d rounds, want 6", len(rec.Rounds))
	}
	if n := kiss.Requests(); n != 1 {
		t.Errorf("the kissing server was asked %d times, want once", n)
	}
	for k, rd := range rec.Rounds {
		g, ks, cl := rd.Samples[0], rd.Samples[1], rd.Samples[2]
		if !g.Answered || g.Err != nil || !ntptest.OffsetWithin(g.Offset, 250*time.Millisecond, g.Delay) || g.Delay < 0 {
			t.Errorf("round %d: good server %+v", k, g)
		}
		var kissErr *client.KissError
		if ks.Answered || !errors.As(ks.Err, &kissErr) || kissErr.Code != "RATE" {
			t.Errorf("round %d: kissing server %+v", k, ks)
		}
		if k > 0 && !strings.Contains(ks.Err.Error(), "not asked again") {
			t.Errorf("round %d: %v", k, ks.Err)
		}
		if cl.Answered || !errors.Is(cl.Err, client.ErrNoAnswer) {
			t.Errorf("round %d: closed port %+v", k, cl)
		}
	}
	sum := Summarize(rec, Options{}, SpreadOptions{})
	if s := sum.Servers[0]; s.Class != ClassNone || s.Answered != 6 {
		t.Errorf("good server: %+v", s)
	}
	if s := sum.Servers[2]; s.Class != ClassUnknown || s.Answered != 0 || s.Lost != 6 || s.Err == nil {
		t.Errorf("closed port: %+v", s)
	}
}

// TestWatchCancel: cancelling ends the watch with the rounds made so far.
func TestWatchCancel(t *testing.T) {
	good := startFake(t, goodReply(0))
	ctx, cancel := context.WithCancel(context.Background())
	rounds := 0
	rec, err := Watch(ctx, Config{Servers: []string{good.Addr}, For: time.Hour, Every: 100 * time.Millisecond,
		OnRound: func(*Record) {
			if rounds++; rounds == 3 {
				cancel()
			}
		}})
	if !errors.Is(err, context.Canceled) || rec == nil || len(rec.Rounds) != 3 {
		t.Fatalf("got %v rounds, %v; want 3 rounds and context.Canceled", rec, err)
	}
}

func TestConfigValidate(t *testing.T) {
	many := make([]string, MaxServers+1)
	for i := range many {
		many[i] = "127.0.0.1"
	}
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{For: time.Second}, "no server"},
		{Config{Servers: many, For: time.Second}, "at most 64"},
		{Config{Servers: []string{"a"}}, "for 0s: want a positive duration"},
		{Config{Servers: []string{"a"}, For: 81 * time.Hour}, "for 81h: want at most 80h"},
		{Config{Servers: []string{"a"}, For: time.Minute, Every: 50 * time.Millisecond}, "every 50ms: want at least 100ms"},
		{Config{Servers: []string{"a"}, For: 90 * time.Minute, Every: 2 * time.Hour}, "every 2h: want at most the length of the watch (for 1h30m)"},
		{Config{Servers: []string{"a", "b", "c"}, For: 80 * time.Hour, Every: 100 * time.Millisecond}, "more than 2000000"},
		{Config{Servers: []string{"a"}, For: time.Second, Timeout: -1}, "timeout -1ns: want a positive duration"},
		{Config{Servers: []string{"127.0.0.1", "127.0.0.1:abc"}, For: time.Second}, `watch: server "127.0.0.1:abc": port "abc" is not a number`},
		{Config{Servers: []string{"[::1"}, For: time.Second}, `watch: server "[::1": not a host name or address`},
	} {
		err := c.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error with %q", c.cfg, err, c.want)
		}
	}
	// The bounds are option errors, which the command line names as flags.
	if oe, ok := option.As(Config{Servers: []string{"a"}, For: time.Minute, Every: time.Millisecond}.Validate()); !ok || oe.Name != "every" || oe.Value != "1ms" {
		t.Errorf("a short interval: %+v, want an option error about every", oe)
	}
	ok := Config{Servers: []string{"a", "b"}, For: 10 * time.Second, Every: 250 * time.Millisecond}
	if err := ok.Validate(); err != nil || ok.Rounds() != 41 || ok.Requests() != 82 {
		t.Errorf("%v: %v, %d rounds, %d requests", ok, err, ok.Rounds(), ok.Requests())
	}
	if _, err := Watch(context.Background(), Config{Servers: []string{"no such host.invalid"}, For: time.Second}); err == nil {
		t.Error("a bad address must fail before watching")
	}
}

// TestContinuousClock: the clock reads the start's wall time plus the
// monotonic time since, with no monotonic reading of its own.
func TestContinuousClock(t *testing.T) {
	start := time.Now()
	clock := ContinuousClock(start)
	time.Sleep(20 * time.Millisecond)
	before := time.Since(start)
	got := clock()
	after := time.Since(start)
	if d := got.Sub(start.Round(0)); d < before || d > after {
		t.Errorf("clock read %v after start, want between %v and %v", d, before, after)
	}
	if strings.Contains(got.String(), "m=") {
		t.Errorf("%v carries a monotonic reading", got)
	}
}
