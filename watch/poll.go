package watch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/leapsmear/leapsmear/client"
	"github.com/leapsmear/leapsmear/internal/netaddr"
	"github.com/leapsmear/leapsmear/internal/option"
)

// Limits of a watch, so that a typo cannot flood a server or fill memory.
const (
	// MinEvery is the shortest poll interval.
	MinEvery = 100 * time.Millisecond
	// DefaultEvery is the poll interval when none is given.
	DefaultEvery = time.Second
	// MaxFor is the longest watch: the longest smear window (72 h) with a
	// margin on each side.
	MaxFor = 80 * time.Hour
	// MaxServers is the most servers one watch polls.
	MaxServers = 64
	// MaxRequests bounds servers x rounds, the traffic and memory of a watch.
	MaxRequests = 2_000_000
)

// Config says what to watch and for how long.
type Config struct {
	// Servers are the addresses to poll, as client.Dial reads them
	// ("host", "host:port", "[v6]:port"). The first is the reference of
	// Relative and Spread.
	Servers []string
	// For is how long to watch: rounds run at 0, Every, 2*Every, ... up to
	// and including For. Required.
	For time.Duration
	// Every is the poll interval; 0 means DefaultEvery.
	Every time.Duration
	// Timeout bounds one exchange; 0 means the smaller of Every and 2 s.
	Timeout time.Duration
	// Version is the NTP version of the requests (3 or 4; 0 means 4).
	Version uint8
	// NTS, when set, authenticates every exchange with NTS (NTS-KE once per
	// server at the start, again when its cookies run out).
	NTS *client.NTSOptions
	// Clock reads the local clock the offsets are measured against; nil
	// means the continuous clock described in the package comment.
	Clock func() time.Time
	// OnRound, when set, is called after each round, once the round is
	// appended to rec.Rounds and rec.Addrs are resolved (from the watching
	// goroutine, before the next round: it should return quickly, and may
	// read rec but not keep or change it). It is how a caller writes what
	// was seen as it comes.
	OnRound func(rec *Record)
}

// Rounds returns how many rounds the watch makes.
func (c Config) Rounds() int { return int(c.For/c.every()) + 1 }

// Requests returns how many requests the watch sends at most.
func (c Config) Requests() int { return c.Rounds() * len(c.Servers) }

func (c Config) every() time.Duration {
	if c.Every == 0 {
		return DefaultEvery
	}
	return c.Every
}

// Validate checks the bounds of a watch and the addresses of its servers
// (their syntax: names are looked up when the watch starts). A wrong value
// of For, Every or Timeout is an *option.Error naming it ("for", "every",
// "timeout").
func (c Config) Validate() error {
	switch {
	case len(c.Servers) == 0:
		return errors.New("watch: no server to watch")
	case len(c.Servers) > MaxServers:
		return fmt.Errorf("watch: %d servers, at most %d", len(c.Servers), MaxServers)
	case c.For <= 0:
		return option.Errorf("for", duration(c.For), "want a positive duration such as 5m")
	case c.For > MaxFor:
		return option.Errorf("for", duration(c.For), "want at most %s", duration(MaxFor))
	case c.Every != 0 && c.Every < MinEvery:
		return option.Errorf("every", duration(c.Every), "want at least %s", duration(MinEvery))
	case c.Every > c.For:
		return option.Errorf("every", duration(c.Every), "want at most the length of the watch (for %s)", duration(c.For))
	case c.Timeout < 0:
		return option.Errorf("timeout", duration(c.Timeout), "want a positive duration")
	case c.Requests() > MaxRequests:
		return fmt.Errorf("watch: %d servers every %s for %s is %d requests, more than %d: poll less often, watch for less time or fewer servers",
			len(c.Servers), duration(c.every()), duration(c.For), c.Requests(), MaxRequests)
	}
	for _, s := range c.Servers {
		if _, _, err := netaddr.SplitTarget(s, client.DefaultPort); err != nil {
			return fmt.Errorf("watch: server %w", err)
		}
	}
	return nil
}

// duration writes d as a user would: 80h, 1h30m, 100ms (not 80h0m0s).
func duration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// Sample is the outcome of one exchange with one server.
type Sample struct {
	// At is the local instant of the measurement: halfway between sending
	// the request and receiving the reply.
	At time.Time
	// Offset is the server's time minus the local clock (client.Response's
	// Offset), and Delay the round-trip delay.
	Offset, Delay time.Duration
	// Leap is the leap indicator of the reply, Stratum its stratum.
	Leap, Stratum uint8
	// Answered is true when the reply carried the server's time; Err is
	// non-nil when the exchange failed or the reply is not usable as is (a
	// server that says it is unsynchronised still has Answered set).
	Answered bool
	Err      error
}

// Round is one poll of every server; Samples[i] is for Config.Servers[i].
type Round struct {
	// At is the local instant the round started.
	At      time.Time
	Samples []Sample
}

// Record is everything a watch saw.
type Record struct {
	Servers []string // as given
	Addrs   []string // as resolved
	Every   time.Duration
	Rounds  []Round
	// Declared holds, per server, the last reply that declared something
	// about leap smearing (client.Response.Smear: a leapsmear server's
	// policy, a leap-smear reference ID, ...); zero (SmearUnknown) when none
	// did. Nil in a record that does not say.
	Declared []client.SmearDeclaration
}

// Series returns the answered samples of server i as points, in round order.
func (r *Record) Series(i int) []Point {
	var pts []Point
	for _, rd := range r.Rounds {
		if s := rd.Samples[i]; s.Answered {
			pts = append(pts, Point{At: s.At, Offset: s.Offset})
		}
	}
	return pts
}

// Watch polls every server of cfg once per round until cfg.For has passed
// or ctx is cancelled, and returns what it saw: the rounds made so far, also
// when ctx ends the watch early (the error is then ctx's). A server that
// answers with a Kiss-o'-Death is not asked again.
func Watch(ctx context.Context, cfg Config) (*Record, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	every := cfg.every()
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = min(every, 2*time.Second)
	}
	clock := cfg.Clock
	if clock == nil {
		clock = ContinuousClock(time.Now())
	}
	rec := &Record{Servers: cfg.Servers, Addrs: make([]string, len(cfg.Servers)), Every: every,
		Declared: make([]client.SmearDeclaration, len(cfg.Servers))}
	clients := make([]*client.Client, len(cfg.Servers))
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.Close()
			}
		}
	}()
	for i, s := range cfg.Servers {
		// NTPv4 requests ask what each server declares about smearing
		// (a leapsmear server's policy); other servers ignore the question.
		c, err := client.Dial(ctx, s, client.Options{Timeout: timeout, Version: cfg.Version, LocalClock: clock, KernelTimestamps: true, NTS: cfg.NTS,
			SmearInfo: cfg.Version != 3})
		if err != nil {
			return nil, fmt.Errorf("watch: %w", err)
		}
		clients[i], rec.Addrs[i] = c, c.Addr().String()
	}

	kissed := make([]error, len(clients))
	rounds := cfg.Rounds()
	start := time.Now()
	for k := range rounds {
		// Round k is due at start + k*every; a round that overran skips the
		// rounds that fell due meanwhile.
		due := start.Add(time.Duration(k) * every)
		if k > 0 {
			if wait := time.Until(due); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return rec, ctx.Err()
				case <-t.C:
				}
			} else if -wait >= every {
				continue
			}
		}
		if err := ctx.Err(); err != nil {
			return rec, err
		}
		rd := Round{At: clock(), Samples: make([]Sample, len(clients))}
		var wg sync.WaitGroup
		for i, c := range clients {
			if kissed[i] != nil {
				rd.Samples[i].Err = kissed[i]
				continue
			}
			wg.Go(func() {
				var d client.SmearDeclaration
				rd.Samples[i], d = sample(ctx, c)
				if d.Smearing != client.SmearUnknown {
					rec.Declared[i] = d // each goroutine writes its own index
				}
			})
		}
		wg.Wait()
		for i, s := range rd.Samples {
			var kiss *client.KissError
			if kissed[i] == nil && errors.As(s.Err, &kiss) {
				kissed[i] = fmt.Errorf("not asked again after %w", s.Err)
			}
		}
		rec.Rounds = append(rec.Rounds, rd)
		if cfg.OnRound != nil {
			cfg.OnRound(rec)
		}
	}
	return rec, nil
}

// sample makes one exchange, and returns what the reply declares about
// smearing.
func sample(ctx context.Context, c *client.Client) (Sample, client.SmearDeclaration) {
	resp, err := c.Query(ctx)
	s := Sample{Err: err}
	var d client.SmearDeclaration
	if resp != nil && !resp.T3.IsZero() {
		s.At = resp.T1.Add(resp.T4.Sub(resp.T1) / 2)
		s.Offset, s.Delay = resp.Offset, resp.Delay
		s.Leap, s.Stratum = resp.Header.Leap, resp.Header.Stratum
		var kiss *client.KissError
		s.Answered = !errors.As(err, &kiss)
		if s.Answered {
			d = resp.Smear()
		}
	}
	return s, d
}

// ContinuousClock returns a clock that reads the wall time start had and
// then advances with the monotonic clock alone, so that neither a step nor
// a leap of the host's realtime moves it. start must carry a monotonic
// reading (as time.Now's result does).
func ContinuousClock(start time.Time) func() time.Time {
	wall := start.Round(0)
	return func() time.Time { return wall.Add(time.Since(start)) }
}
