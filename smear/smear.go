package smear

import (
	"fmt"
	"time"

	"github.com/leapsmear/leapsmear/leap"
)

// Leap indicator values announced by Smear.LI, as in the NTP header.
const (
	LINone   = 0 // no leap announced
	LIInsert = 1 // the last minute of the day has 61 seconds
	LIDelete = 2 // the last minute of the day has 59 seconds
)

// Time is served (smeared) time in POSIX nanoseconds since 1970-01-01: what
// the server puts on the wire. It equals true UTC (leap.UTC) outside every
// window and differs from it by up to a second inside one; Smear.Unsmear
// maps it back to the continuous scale.
type Time int64

// Time returns t as a time.Time in UTC.
func (t Time) Time() time.Time { return time.Unix(0, int64(t)).UTC() }

// UnixNano returns t as plain POSIX nanoseconds.
func (t Time) UnixNano() int64 { return int64(t) }

// Window is where a policy smears one event of the table, on the TAI scale.
// For the step policy Start and End are both the instant the served time
// jumps back (inserted second) or forward (deleted second).
type Window struct {
	Event leap.Event
	// Start is where the fraction leaves 0 and End where it reaches 1.
	Start, End leap.TAI
}

// Length returns the window length (on TAI, which is the length on U).
func (w Window) Length() time.Duration { return time.Duration(w.End - w.Start) }

// window is a Window with everything the hot path needs precomputed.
type window struct {
	Window
	sign          int64
	before, after int64 // TAI-UTC before and after the event, in ns
	length        uint64
	// Served-time bounds of the window, for Unsmear.
	servedStart, servedEnd Time
	// The step policy announces the leap over [liStart, liEnd).
	liStart, liEnd leap.TAI
}

// Smear applies one policy to every event of one leap table. It is immutable
// and safe for concurrent use; build a new one when the table changes.
type Smear struct {
	policy Policy
	table  *leap.Table
	base   int64 // TAI-UTC before the first event, in ns
	w      []window
}

// New applies policy p to every event of table t. It fails when the policy is
// invalid or when the windows of two consecutive events overlap.
func New(t *leap.Table, p Policy) (*Smear, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	s := &Smear{policy: p, table: t, base: int64(t.Base) * leap.Second}
	for _, e := range t.Events {
		w := window{
			sign:   int64(e.Delta),
			before: int64(e.Before()) * leap.Second,
			after:  int64(e.TAIUTC) * leap.Second,
		}
		w.Event = e
		midnight := e.Unix() * leap.Second
		if p.Shape == Step {
			w.Start, w.End = e.Jump(), e.Jump()
			w.liStart = leap.TAI(midnight - 86400*leap.Second + w.before)
			w.liEnd = leap.TAI(midnight + w.after)
		} else {
			w.Start = leap.TAI(midnight + w.before + int64(p.WindowStart(e.Delta)))
			w.End = w.Start + leap.TAI(p.WindowLength(e.Delta))
			w.length = uint64(w.End - w.Start)
		}
		w.servedStart = Time(int64(w.Start) - w.before)
		w.servedEnd = Time(int64(w.End) - w.after)
		if n := len(s.w); n > 0 && s.w[n-1].End > w.Start {
			return nil, fmt.Errorf("policy %s on leap table %s: the window for %s (%s to %s) overlaps the window for %s (%s to %s)",
				p.Name, t.Source, s.w[n-1].Event, t.LabelFromTAI(s.w[n-1].Start), t.LabelFromTAI(s.w[n-1].End),
				e, t.LabelFromTAI(w.Start), t.LabelFromTAI(w.End))
		}
		s.w = append(s.w, w)
	}
	return s, nil
}

// Policy returns the policy applied.
func (s *Smear) Policy() Policy { return s.policy }

// Table returns the leap table the smear applies to.
func (s *Smear) Table() *leap.Table { return s.table }

// search returns the index of the first window for which beyond holds, or
// len(s.w) if none; beyond must be false for a prefix of the windows and
// true for the rest. It is the one binary search of the package (the
// closures inline, so the served path makes no call through a pointer).
func (s *Smear) search(beyond func(w *window) bool) int {
	lo, hi := 0, len(s.w)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if beyond(&s.w[m]) {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// firstEndingAfter returns the index of the first window with End > x, or
// len(s.w) if none.
func (s *Smear) firstEndingAfter(x leap.TAI) int {
	return s.search(func(w *window) bool { return w.End > x })
}

// taiMinusServed returns TAI minus the served time at x, in ns: TAI-UTC
// outside the windows and the smeared value inside them.
func (s *Smear) taiMinusServed(x leap.TAI) int64 {
	n := len(s.w)
	if n == 0 {
		return s.base
	}
	if x >= s.w[n-1].End {
		return s.w[n-1].after
	}
	w := &s.w[s.firstEndingAfter(x)]
	if x < w.Start {
		return w.before
	}
	return w.before + w.sign*int64(fractionNs(s.policy.Shape, uint64(x-w.Start), w.length))
}

// Served returns the time served at the TAI instant x. It is true UTC
// outside every window, never decreases, and (for every smearing policy)
// never repeats or skips a second.
func (s *Smear) Served(x leap.TAI) Time {
	return Time(int64(x) - s.taiMinusServed(x))
}

// Offset returns the served time minus true UTC at x, true UTC being counted
// in POSIX seconds (which repeat 23:59:59 during an inserted second).
func (s *Smear) Offset(x leap.TAI) time.Duration {
	return time.Duration(int64(s.Served(x)) - int64(s.table.UnixFromTAI(x)))
}

// RatePPM returns the frequency offset of the served clock at x in parts per
// million: negative while an inserted second is smeared (the served clock runs
// slow), positive for a deleted one, 0 outside the windows and for step.
func (s *Smear) RatePPM(x leap.TAI) float64 {
	i := s.firstEndingAfter(x)
	if i == len(s.w) || x < s.w[i].Start || s.policy.Shape == Step {
		return 0
	}
	w := &s.w[i]
	l := float64(w.length)
	return -float64(w.sign) * rateAt(s.policy.Shape, float64(x-w.Start)/l) / l * 1e15
}

// LI returns the leap indicator to announce at x: for the step policy LIInsert
// or LIDelete from 00:00 UTC of the leap day until the leap is over, and
// LINone otherwise. A smearing policy never announces: a client that also
// applied the leap would correct twice.
func (s *Smear) LI(x leap.TAI) int {
	if s.policy.Shape != Step {
		return LINone
	}
	lo := s.search(func(w *window) bool { return w.liEnd > x })
	if lo == len(s.w) || x < s.w[lo].liStart {
		return LINone
	}
	if s.w[lo].sign > 0 {
		return LIInsert
	}
	return LIDelete
}

// Windows returns the windows of every event, in order.
func (s *Smear) Windows() []Window {
	out := make([]Window, len(s.w))
	for i := range s.w {
		out[i] = s.w[i].Window
	}
	return out
}

// Next returns the first window that has not ended at x: the one in progress
// or the next to come.
func (s *Smear) Next(x leap.TAI) (Window, bool) {
	i := s.firstEndingAfter(x)
	if i == len(s.w) {
		return Window{}, false
	}
	return s.w[i].Window, true
}

// Unsmear returns the TAI instant at which the time served was served, so
// that a timestamp taken from a smeared clock can be corrected (use the
// table's LabelFromTAI to name it in UTC). For every smearing policy
// Unsmear(Served(x)) is within 1 ns of x. For step, a served value in the
// repeated second maps to its first occurrence, and a value in the deleted
// second to the instant of the jump.
func (s *Smear) Unsmear(served Time) leap.TAI {
	// The first window whose served range reaches beyond served. For a step
	// over an inserted second the range is empty (servedEnd < servedStart).
	lo := s.search(func(w *window) bool { return max(w.servedStart, w.servedEnd) > served })
	if lo == len(s.w) {
		if lo == 0 {
			return leap.TAI(int64(served) + s.base)
		}
		return leap.TAI(int64(served) + s.w[lo-1].after)
	}
	w := &s.w[lo]
	if served < w.servedStart {
		return leap.TAI(int64(served) + w.before)
	}
	if s.policy.Shape == Step {
		return w.Start // inside a deleted second: it was never served
	}
	// The served time is non-decreasing in the window: find the first
	// nanosecond d at which it reaches served.
	var dlo, dhi uint64 = 0, w.length
	for dlo < dhi {
		d := dlo + (dhi-dlo)/2
		at := int64(w.Start) + int64(d) - w.before - w.sign*int64(fractionNs(s.policy.Shape, d, w.length))
		if Time(at) >= served {
			dhi = d
		} else {
			dlo = d + 1
		}
	}
	return w.Start + leap.TAI(dlo)
}
