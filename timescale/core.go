package timescale

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leapsmear/leapsmear/leap"
)

// anchor ties a monotonic reading to an instant on the continuous scale. It
// is immutable; a re-anchoring stores a new one.
type anchor struct {
	mono Monotonic
	tai  leap.TAI
	real Realtime // host realtime when the anchor was taken
}

// core is what the anchored sources share: the served path (Now), the table,
// the sync status and the bookkeeping of the background checks.
type core struct {
	name   string
	clock  Clock
	anchor atomic.Pointer[anchor]
	table  atomic.Pointer[leap.Table]
	synced atomic.Bool

	readKernel func() (KernelState, error)
	assume     bool
	log        *slog.Logger
	tol        int64 // ns
	window     int64 // ns
	interval   time.Duration

	mu         sync.Mutex // serialises checks; guards the fields below
	st         Stats
	lastRaw    int64 // host realtime minus monotonic reading at the last check
	hostKnown  bool  // the sync status was read at least once
	hostSynced bool

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// init sets c up from cfg; c is not shared yet.
func (c *core) init(name string, cfg Config) error {
	if cfg.Table == nil {
		return errors.New(name + " clock source: no leap table")
	}
	c.name = name
	c.clock = cfg.Clock
	c.readKernel = cfg.Kernel
	c.assume = cfg.AssumeSynced
	c.log = cfg.Logger
	c.tol = int64(cfg.Tolerance)
	c.window = int64(cfg.LeapWindow)
	c.interval = cfg.CheckInterval
	c.stop = make(chan struct{})
	c.done = make(chan struct{})
	if c.clock == nil {
		c.clock = HostClock()
	}
	if c.readKernel == nil {
		c.readKernel = ReadKernel
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.tol <= 0 {
		c.tol = int64(DefaultTolerance)
	}
	if c.window <= 0 {
		c.window = int64(DefaultLeapWindow)
	}
	if c.interval == 0 {
		c.interval = DefaultCheckInterval
	}
	c.table.Store(cfg.Table)
	return nil
}

// Now reads the source: the host's monotonic clock through the anchor.
func (c *core) Now() Reading {
	real, mono := c.clock.Now()
	a := c.anchor.Load()
	return Reading{TAI: a.tai + leap.TAI(mono-a.mono), Real: real}
}

// Name names the source.
func (c *core) Name() string { return c.name }

// Synced reports whether the host clock is synchronised, or AssumeSynced.
func (c *core) Synced() bool { return c.synced.Load() }

// SetTable replaces the leap table; a nil table is ignored.
func (c *core) SetTable(t *leap.Table) {
	if t != nil {
		c.table.Store(t)
	}
}

// Stats returns the counters and last measurements.
func (c *core) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.st
	st.Source = c.name
	return st
}

// Close stops the background checks. It may be called more than once.
func (c *core) Close() error {
	c.closeOnce.Do(func() { close(c.stop) })
	<-c.done
	return nil
}

// start runs check every interval until Close; a negative interval runs none.
func (c *core) start(check func()) {
	if c.interval < 0 {
		close(c.done)
		return
	}
	go func() {
		defer close(c.done)
		tick := time.NewTicker(c.interval)
		defer tick.Stop()
		for {
			select {
			case <-c.stop:
				return
			case <-tick.C:
				check()
			}
		}
	}()
}

// predict returns the instant the anchor gives for a monotonic reading.
func (c *core) predict(mono Monotonic) leap.TAI {
	a := c.anchor.Load()
	return a.tai + leap.TAI(mono-a.mono)
}

// setAnchor stores a new anchor. Called with mu held (or before the source
// is shared).
func (c *core) setAnchor(real Realtime, mono Monotonic, tai leap.TAI) {
	c.anchor.Store(&anchor{mono: mono, tai: tai, real: real})
	c.st.Anchored = time.Unix(0, int64(real)).UTC()
}

// refreshKernel reads the host clock state and updates the sync status.
// Called with mu held.
func (c *core) refreshKernel() {
	k, err := c.readKernel()
	c.applyKernel(k, err)
}

func (c *core) applyKernel(k KernelState, err error) {
	if err != nil {
		if c.st.KernelErr == "" {
			c.log.Warn("cannot read the host clock's sync status; treating the host as unsynchronised",
				"source", c.name, "err", err, "assume_synced", c.assume)
		}
		c.st.KernelErr = err.Error()
		c.st.Kernel = KernelState{}
		c.setHostSynced(false)
		return
	}
	if c.st.KernelErr != "" {
		c.log.Info("host clock sync status readable again", "source", c.name)
	}
	c.st.KernelErr = ""
	c.st.Kernel = k
	c.setHostSynced(k.Synced())
}

// setHostSynced records the host's sync status, logging changes. The first
// reading is not logged: the source is not serving yet, and whoever starts
// it says where it stands once it does (UnsyncedMessage).
func (c *core) setHostSynced(ok bool) {
	if c.hostKnown && ok != c.hostSynced {
		switch {
		case !ok && c.assume:
			c.log.Info(AssumedSyncMessage, "source", c.name)
		case !ok:
			c.log.Warn(UnsyncedMessage, "source", c.name)
		default:
			c.log.Info("host clock synchronised", "source", c.name)
		}
	}
	c.hostKnown, c.hostSynced = true, ok
	c.synced.Store(c.assume || ok)
}

// Messages of the sync status, logged by the source when it changes and by
// the daemon once it serves.
const (
	UnsyncedMessage    = "host clock not synchronised (adjtimex): clients get LI=3 and stratum 16, which they reject; assume-synced serves anyway"
	AssumedSyncMessage = "host clock not synchronised; serving anyway, as synchronisation is assumed"
)

// settle ends a check that compared a host reading with the anchor's
// prediction p. raw is the host reading minus the monotonic reading and last
// holds its value at the previous check; a jump of it by half a second or
// more that the table explains (accepted) is the host's own leap handling,
// counted and ignored. A reading the table does not explain is a step of the
// host clock: the source re-anchors on retarget(). Called with mu held.
func (c *core) settle(real Realtime, mono Monotonic, raw int64, last *int64, p leap.TAI, accepted bool, retarget func() leap.TAI) {
	jump := raw - *last
	*last = raw
	if accepted {
		if abs(jump) >= leap.Second/2 {
			c.st.KernelLeaps++
			c.log.Info("host clock leapt by itself at a leap second of the table; served time unaffected",
				"source", c.name, "step", time.Duration(jump), "host", fmtNs(real))
		}
		return
	}
	x := retarget()
	c.setAnchor(real, mono, x)
	c.st.Steps++
	c.st.LastStep = time.Duration(x - p)
	c.log.Warn("host clock stepped; re-anchored on it",
		"source", c.name, "step", time.Duration(x-p), "host", fmtNs(real))
}

// realExplained reports whether the table explains the host realtime real
// at the anchored instant p: real is true UTC, or, within the leap window of
// an event, UTC as it reads without that leap or with it.
func (c *core) realExplained(t *leap.Table, p leap.TAI, real Realtime) bool {
	r := int64(real)
	return c.near(r, int64(t.UnixFromTAI(p))) || nearLeap(t, p, c.window, func(e leap.Event) bool {
		return c.near(r, int64(p)-int64(e.Before())*leap.Second) ||
			c.near(r, int64(p)-int64(e.TAIUTC)*leap.Second)
	})
}

// near reports whether a and b differ by at most the tolerance.
func (c *core) near(a, b int64) bool { return abs(a-b) <= c.tol }

// nearLeap reports whether ok holds for a table event whose TAI instant is
// within window of p.
func nearLeap(t *leap.Table, p leap.TAI, window int64, ok func(leap.Event) bool) bool {
	for _, e := range t.Events {
		if d := int64(p - e.TAI()); d >= -window && d <= window && ok(e) {
			return true
		}
	}
	return false
}

// taiFromReal maps a host realtime reading to TAI, taking it for true UTC
// (as it is when the host is synchronised and has applied every leap of the
// table). Inside an inserted second POSIX time repeats, so two instants share
// the reading; the one nearer hint is taken.
func taiFromReal(t *leap.Table, real Realtime, hint leap.TAI) leap.TAI {
	u := leap.UTC(real)
	x := t.TAIFromUnix(u)
	if alt := x + leap.TAI(leap.Second); t.UnixFromTAI(alt) == u && abs(int64(alt-hint)) < abs(int64(x-hint)) {
		return alt
	}
	return x
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// fmtNs renders POSIX nanoseconds of any scale (host realtime, UTC) for logs.
func fmtNs[T ~int64](ns T) string { return time.Unix(0, int64(ns)).UTC().Format(time.RFC3339Nano) }
