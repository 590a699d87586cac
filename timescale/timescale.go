// Package timescale provides the clock sources of the server: each gives the
// current instant on the continuous scale (leap.TAI) plus the host's sync
// status, without ever trusting the host kernel's own leap handling.
//
// Sources:
//   - System reads CLOCK_REALTIME through a CLOCK_MONOTONIC anchor. A host
//     clock that inserts or deletes a leap second itself (a step of exactly one
//     second at a table event) does not move the served time; any other step
//     of the host clock is followed by re-anchoring, logged and counted.
//   - KernelTAI reads CLOCK_TAI, the same way, and refuses to start unless the
//     kernel's TAI offset agrees with the leap table.
//   - Shifted wraps a source to serve time as if now were shifted, to replay
//     a historic leap.
//
// A rehearsal (leap.ParseRehearsal) does not need a source of its own: the source
// keeps mapping the host clock with the real table, and only the smear uses
// the table with the synthetic leap (see docs/timescale.md).
//
// Now is on the served path: it allocates nothing, takes no lock and reads
// the clock once through time.Now (vDSO). Everything else — comparing the
// host clock with the anchor, reading adjtimex — happens in a background
// check every CheckInterval.
package timescale

import (
	"log/slog"
	"sync"
	"time"

	"github.com/leapsmear/leapsmear/internal/option"
	"github.com/leapsmear/leapsmear/internal/rxstamp"
	"github.com/leapsmear/leapsmear/leap"
)

// Realtime is a reading of the host's CLOCK_REALTIME in POSIX nanoseconds,
// as the host kernel keeps it: it may be stepped, slewed, or leap by itself.
// Kernel receive timestamps (SO_TIMESTAMPNS) are on this scale. Map it to
// the continuous scale through a Reading (FromRealtime), never by taking it
// for true UTC.
type Realtime int64

// Monotonic is a reading of the host's CLOCK_MONOTONIC in nanoseconds, from
// an arbitrary origin: it never jumps, and only differences of two readings
// mean anything.
type Monotonic int64

// Reading is one reading of a source.
type Reading struct {
	// TAI is the instant on the continuous scale.
	TAI leap.TAI
	// Real is the host's CLOCK_REALTIME at the same moment, unshifted. It
	// maps kernel timestamps (FromRealtime).
	Real Realtime
}

// MaxRxAge bounds how long before a reading a receive timestamp may have been
// taken for FromRealtime to use it: the one limit of the project
// (rxstamp.MaxAge).
const MaxRxAge = rxstamp.MaxAge

// FromRealtime maps a host CLOCK_REALTIME timestamp rx (POSIX nanoseconds),
// such as the kernel receive timestamp (SO_TIMESTAMPNS) of a packet taken
// shortly before r, to the continuous scale through the same anchor as r:
// r.TAI - (r.Real - rx). A timestamp after r, or more than MaxRxAge before it
// (the host clock was stepped or leapt in between, or the packet is stale),
// maps to r.TAI.
func (r Reading) FromRealtime(rx Realtime) leap.TAI {
	d, ok := rxstamp.Age(int64(rx), int64(r.Real))
	if !ok {
		return r.TAI
	}
	return r.TAI - leap.TAI(d)
}

// Source gives the current instant on the continuous scale and the host's
// sync status. Implementations are safe for concurrent use.
type Source interface {
	// Now reads the source. It allocates nothing and takes no lock.
	Now() Reading
	// Name names the source for logs and metrics: "system", "tai",
	// "shifted(system)", ...
	Name() string
	// Synced reports whether the host clock is synchronised (read from
	// adjtimex in the background), or true when AssumeSynced was given.
	Synced() bool
	// SetTable replaces the leap table used to map the host clock (a
	// reload); it is safe to call while Now runs. It takes the real table,
	// never a rehearsal table: the host clock does not leap in a rehearsal.
	SetTable(*leap.Table)
	// Stats returns the source's counters and last measurements.
	Stats() Stats
	// Close stops the background checks.
	Close() error
}

// Stats are a source's counters and last measurements, for metrics and the
// status page.
type Stats struct {
	// Source is the source's Name.
	Source string
	// Checks counts comparisons of the host clock with the anchor.
	Checks uint64
	// Steps counts host clock steps that were followed by re-anchoring.
	Steps uint64
	// LastStep is how far the served time moved at the last re-anchoring.
	LastStep time.Duration
	// KernelLeaps counts host clock steps of one second at a table event
	// that were recognised as the host's own leap handling and not followed.
	KernelLeaps uint64
	// Anchored is the host realtime at which the current anchor was taken.
	Anchored time.Time
	// Offset is the host clock minus what the anchor predicts for it at the
	// last check: CLOCK_TAI minus the served TAI for the tai source while the
	// kernel's TAI offset matches the table, else the host realtime minus
	// true UTC. About ±1 s while the host has not yet applied, or has already
	// applied, a leap of the table.
	Offset time.Duration
	// Shift is the fixed shift of a Shifted source on the TAI scale.
	Shift time.Duration
	// Kernel is the host clock state last read from adjtimex.
	Kernel KernelState
	// KernelErr is the error of the last adjtimex read, empty if it worked.
	KernelErr string
}

// Clock reads the host clock: realtime and monotonic readings taken at the
// same moment.
type Clock interface {
	Now() (Realtime, Monotonic)
}

var processStart = time.Now()

type hostClock struct{}

func (hostClock) Now() (Realtime, Monotonic) {
	t := time.Now()
	return Realtime(t.UnixNano()), Monotonic(t.Sub(processStart))
}

// HostClock returns the host's clock: one time.Now call, whose wall reading
// is CLOCK_REALTIME and whose monotonic reading is CLOCK_MONOTONIC.
func HostClock() Clock { return hostClock{} }

// ManualClock is a Clock moved by hand, for tests and simulations. Its zero
// value reads (0, 0).
type ManualClock struct {
	mu   sync.Mutex
	real Realtime
	mono Monotonic
}

// NewManualClock returns a clock whose realtime reads at and whose monotonic
// reading is zero.
func NewManualClock(at time.Time) *ManualClock {
	return &ManualClock{real: Realtime(at.UnixNano())}
}

// Now returns the current readings.
func (c *ManualClock) Now() (Realtime, Monotonic) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.real, c.mono
}

// Advance lets time pass: both readings move forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.real += Realtime(d)
	c.mono += Monotonic(d)
}

// Step steps the realtime reading alone by d, as settimeofday or a kernel
// leap second does.
func (c *ManualClock) Step(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.real += Realtime(d)
}

// Config selects and configures a source; see New.
type Config struct {
	// Kind is "system" (the default when empty) or "tai".
	Kind string
	// Table maps the host clock to TAI. It is the real table even during a
	// rehearsal: the host clock does not leap in a rehearsal.
	Table *leap.Table
	// TimeOffset serves time as if the host clock read that much later
	// (--time-offset).
	TimeOffset time.Duration
	// TimeOffsetTo serves time as if now were this instant at start
	// (--time-offset-to). Excludes TimeOffset.
	TimeOffsetTo time.Time
	// AssumeSynced makes Synced true whatever adjtimex says.
	AssumeSynced bool
	// Logger receives step, leap and sync-status messages; nil means
	// slog.Default().
	Logger *slog.Logger
	// Clock is the host clock; nil means HostClock().
	Clock Clock
	// Kernel reads the host clock state; nil means ReadKernel (adjtimex,
	// read-only).
	Kernel func() (KernelState, error)
	// ClockTAI reads CLOCK_TAI for the tai source; nil means ReadClockTAI.
	ClockTAI func() (leap.TAI, error)
	// Tolerance is how far the host clock may drift from the anchor's
	// prediction before it counts as stepped; 0 means 5 ms.
	Tolerance time.Duration
	// LeapWindow is how long before and after a table event a host clock off
	// by exactly that leap is taken for the host's own leap handling rather
	// than a step; 0 means 24 h.
	LeapWindow time.Duration
	// CheckInterval is the period of the background checks; 0 means 250 ms,
	// negative means none (call Check yourself).
	CheckInterval time.Duration
}

// Defaults of Config.
const (
	DefaultTolerance     = 5 * time.Millisecond
	DefaultLeapWindow    = 24 * time.Hour
	DefaultCheckInterval = 250 * time.Millisecond
)

// MaxShift bounds a replay's shift (TimeOffset, or TimeOffsetTo from now):
// an NTP client takes the served time within 68 years of its own clock
// (RFC 5905 eras), so a larger shift could not be served meaningfully, and
// the arithmetic stays far from overflowing.
const MaxShift = 68 * 365 * 24 * time.Hour

// Validate checks the options of cfg that a user sets; its errors are
// *option.Error named after them (clock, time-offset, time-offset-to).
func (cfg Config) Validate() error {
	switch {
	case cfg.Kind != "" && cfg.Kind != "system" && cfg.Kind != "tai":
		return option.Errorf("clock", cfg.Kind, "want system or tai")
	case cfg.TimeOffset != 0 && !cfg.TimeOffsetTo.IsZero():
		return option.Errorf("time-offset", cfg.TimeOffset, "give either a duration (%s) or a target instant (%s), not both", option.Ref("time-offset"), option.Ref("time-offset-to"))
	case cfg.TimeOffset > MaxShift || cfg.TimeOffset < -MaxShift:
		return option.Errorf("time-offset", cfg.TimeOffset, "want at most %v either way: NTP clients take served time within 68 years of their own clock", MaxShift)
	}
	return nil
}

// checkShiftTo refuses a replay target more than MaxShift from now.
func checkShiftTo(to, now time.Time) error {
	if d := to.Sub(now); d > MaxShift || d < -MaxShift {
		return option.Errorf("time-offset-to", to.UTC().Format(time.RFC3339), "want an instant within 68 years of now (%s): NTP clients take served time within 68 years of their own clock",
			now.UTC().Format(time.RFC3339))
	}
	return nil
}

// New builds the source that cfg describes: system or tai, shifted when
// TimeOffset or TimeOffsetTo is set.
func New(cfg Config) (Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var src Source
	var err error
	switch cfg.Kind {
	case "", "system":
		src, err = NewSystem(cfg)
	case "tai":
		src, err = NewKernelTAI(cfg)
	}
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.TimeOffset != 0:
		return Shift(src, cfg.Table, cfg.TimeOffset), nil
	case !cfg.TimeOffsetTo.IsZero():
		if err := checkShiftTo(cfg.TimeOffsetTo, cfg.Table.UnixFromTAI(src.Now().TAI).Time()); err != nil {
			src.Close()
			return nil, err
		}
		return ShiftTo(src, cfg.Table, cfg.TimeOffsetTo), nil
	}
	return src, nil
}

var (
	_ Source = (*System)(nil)
	_ Source = (*KernelTAI)(nil)
	_ Source = (*Shifted)(nil)
)
