package timescale

import (
	"time"

	"github.com/leapsmear/leapsmear/leap"
)

// Shifted serves another source's time shifted by a fixed amount on the
// continuous scale, to replay a historic leap: at construction the served
// UTC is the inner source's UTC plus the requested shift, and from then on it
// runs with the inner source, through any leap of the table in between (the
// replayed leap second happens; the host's realtime, which did not leap, then
// differs from the served UTC by the shift minus that leap).
//
// Readings keep the host's unshifted realtime in Real, so FromRealtime still
// maps kernel timestamps.
type Shifted struct {
	inner Source
	shift leap.TAI
	name  string
}

// Shift wraps inner so that it serves time as if the host clock read d later
// (--time-offset). t maps the inner source's instant to UTC and back.
func Shift(inner Source, t *leap.Table, d time.Duration) *Shifted {
	r := inner.Now()
	target := t.TAIFromUnix(t.UnixFromTAI(r.TAI) + leap.UTC(d))
	return shiftBy(inner, target-r.TAI)
}

// ShiftTo wraps inner so that it serves time as if now were the instant at
// (--time-offset-to), e.g. 2016-12-31T18:00:00Z to replay the 2016 leap six
// hours from now.
func ShiftTo(inner Source, t *leap.Table, at time.Time) *Shifted {
	return shiftBy(inner, t.TAIFromTime(at)-inner.Now().TAI)
}

func shiftBy(inner Source, shift leap.TAI) *Shifted {
	return &Shifted{inner: inner, shift: shift, name: "shifted(" + inner.Name() + ")"}
}

// Now reads the inner source and shifts its instant.
func (s *Shifted) Now() Reading {
	r := s.inner.Now()
	r.TAI += s.shift
	return r
}

// Name is "shifted(" + the inner source's name + ")".
func (s *Shifted) Name() string { return s.name }

// Synced is the inner source's sync status.
func (s *Shifted) Synced() bool { return s.inner.Synced() }

// SetTable passes the table on to the inner source. The shift, fixed at
// construction, stays.
func (s *Shifted) SetTable(t *leap.Table) { s.inner.SetTable(t) }

// Stats are the inner source's, with this source's name and shift.
func (s *Shifted) Stats() Stats {
	st := s.inner.Stats()
	st.Source = s.name
	st.Shift = time.Duration(s.shift)
	return st
}

// Close closes the inner source.
func (s *Shifted) Close() error { return s.inner.Close() }
