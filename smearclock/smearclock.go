// Package smearclock gives an application leap-smeared time computed locally,
// for a program on a host that cannot take its time from a smearing server,
// and the inverse, to correct timestamps written by a smeared clock.
//
// A Clock reads the host clock through a monotonic anchor, exactly as the
// server's system source does (it is timescale's system source), and applies
// the smear package's policy to it: the same mathematics as a leapsmear
// server with the same table and policy, so that a program using a Clock
// agrees with a leapsmear fleet to the nanosecond of the clocks' agreement.
// The host kernel's own handling of a leap second (a step of one second at
// midnight) does not reach the smeared time.
//
// # Monotonic readings
//
// Go's time.Time carries a monotonic clock reading beside its wall clock
// reading, and Sub, Since and Until use it when both sides have one. The
// values that Now returns carry one, but Go moves a time's wall and
// monotonic readings together (Add is the only way to make a time with a
// monotonic reading and a chosen wall reading), so the monotonic reading of
// a Now value runs with the smeared clock: t2.Sub(t1) for two Now values is
// the smeared time elapsed, within the policy's rate of the true elapsed time
// (11.6 ppm for noon-to-noon), never negative and never a jump at a leap,
// since the smeared time comes from the host's monotonic clock. (When the
// host clock is stepped by something other than a leap, a time daemon or an
// operator correcting it, the clock follows the step as every wall clock
// must, and so does that monotonic reading.) Against
// a value of time.Now, as in time.Since(clock.Now()), it is off by the part
// of each leap smeared since New (at most one second per leap). Measure
// elapsed time with time.Now values, and stamp events with Now.
package smearclock

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/smear"
	"github.com/leapsmear/leapsmear/timescale"
)

// Options tune a Clock. The zero value reads the host clock, checks it in the
// background every 250 ms and logs to slog.Default().
type Options struct {
	// TimeOffset makes the clock read as if the host clock read that much
	// later, to replay a leap (as leapsmear serve --time-offset): a server
	// and a Clock given the same offset serve the same time.
	TimeOffset time.Duration
	// Clock is the host clock; nil means timescale.HostClock(). Tests and
	// simulations give a timescale.ManualClock.
	Clock timescale.Clock
	// Kernel reads the host clock's state (adjtimex, read-only); nil means
	// timescale.ReadKernel. It decides Synced.
	Kernel func() (timescale.KernelState, error)
	// Logger receives the source's messages (host clock steps, the host's
	// own leap); nil means slog.Default().
	Logger *slog.Logger
	// CheckInterval is the period of the comparison of the host clock with
	// the anchor; 0 means timescale.DefaultCheckInterval, negative none.
	CheckInterval time.Duration
}

// Clock is smeared UTC computed locally. It is safe for concurrent use.
type Clock struct {
	src   timescale.Source
	smear *smear.Smear
	base  time.Time // a time.Now reading, with its monotonic reading
}

// New returns a clock that smears the leaps of table (nil means the table
// built into leapsmear) with policy. Close it to stop its background checks.
func New(policy smear.Policy, table *leap.Table, opt Options) (*Clock, error) {
	if table == nil {
		table = leap.Default()
	}
	s, err := smear.New(table, policy)
	if err != nil {
		return nil, fmt.Errorf("smearclock: %w", err)
	}
	src, err := timescale.New(timescale.Config{
		Table:         table,
		TimeOffset:    opt.TimeOffset,
		Clock:         opt.Clock,
		Kernel:        opt.Kernel,
		Logger:        opt.Logger,
		CheckInterval: opt.CheckInterval,
	})
	if err != nil {
		return nil, fmt.Errorf("smearclock: %w", err)
	}
	return &Clock{src: src, smear: s, base: time.Now()}, nil
}

// Now returns the current smeared UTC: true UTC outside the policy's
// windows, and never a repeated or skipped second. The value carries a
// monotonic reading that runs with the smeared clock (see the package
// documentation); its location is time.Local, as time.Now's (format it
// with .UTC(), which drops the monotonic reading of the copy it returns).
func (c *Clock) Now() time.Time {
	served := c.smear.Served(c.src.Now().TAI)
	return c.base.Add(time.Duration(served.UnixNano() - c.base.UnixNano()))
}

// Served returns the smeared time at the TAI instant x: what a leapsmear
// server with the same table and policy serves at x.
func (c *Clock) Served(x leap.TAI) smear.Time { return c.smear.Served(x) }

// Unsmear returns the true UTC instant at which a smeared clock read t,
// written with 23:59:60 inside an inserted second (see UnsmearNs for the
// nanosecond and the repeated second of the step policy).
func (c *Clock) Unsmear(t time.Time) leap.Label {
	return c.smear.Table().LabelFromTAI(UnsmearNs(c.smear, smear.Time(t.UnixNano())))
}

// Offset returns the smeared time minus true UTC now: negative while an
// inserted second is smeared.
func (c *Clock) Offset() time.Duration { return c.smear.Offset(c.src.Now().TAI) }

// Synced reports whether the host clock is synchronised (adjtimex), so that
// the smeared time it gives can be trusted.
func (c *Clock) Synced() bool { return c.src.Synced() }

// Smear returns the smear the clock applies: its policy, table and windows.
func (c *Clock) Smear() *smear.Smear { return c.smear }

// Close stops the background checks of the host clock.
func (c *Clock) Close() error { return c.src.Close() }

// UnsmearNs inverts s.Served to the nanosecond: it returns the TAI instant
// at which the smeared clock read served exactly, which is exact whenever
// that instant is a whole nanosecond (six hours into the noon-to-noon smear,
// on the smeared clock, true UTC is exactly 250 ms later, as google/unsmear
// computes) and within 1 ns otherwise.
//
// It wraps smear.Smear.Unsmear, which returns the first nanosecond at which
// served was served: while an inserted second is smeared, the clock runs slow
// and may read the same nanosecond for two consecutive true nanoseconds, of
// which the later is the one where the smeared clock reads served exactly.
// For the step policy, a value inside the repeated 23:59:59 maps to its first
// occurrence (it was served again during 23:59:60: see Repeated), and a
// value inside a deleted second, never served, to the instant of the jump.
func UnsmearNs(s *smear.Smear, served smear.Time) leap.TAI {
	x := s.Unsmear(served)
	if s.Served(x) == served && s.Served(x+1) == served {
		return x + 1
	}
	return x
}

// Repeated reports whether the step policy of s served the value served
// twice, once during 23:59:59 and again during the inserted 23:59:60, so
// that UnsmearNs cannot tell which of the two instants it was.
func Repeated(s *smear.Smear, served smear.Time) bool {
	if s.Policy().Shape != smear.Step {
		return false
	}
	x := s.Unsmear(served)
	return s.Served(x) == served && s.Served(x+leap.TAI(leap.Second)) == served
}
