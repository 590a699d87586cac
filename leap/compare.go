package leap

import (
	"fmt"
	"time"
)

// DiffKind says how two tables differ.
type DiffKind int

// The kinds of difference between two tables.
const (
	// MissingEvent: one table has an event at an instant where the other has none.
	MissingEvent DiffKind = iota + 1
	// DifferentOffset: both have an event at the instant, with different
	// TAI-UTC or sign.
	DifferentOffset
	// DifferentExpiry: the tables expire at different instants.
	DifferentExpiry
	// DifferentBase: the tables start from different TAI-UTC in 1972.
	DifferentBase
)

func (k DiffKind) String() string {
	switch k {
	case MissingEvent:
		return "missing event"
	case DifferentOffset:
		return "different offset"
	case DifferentExpiry:
		return "different expiry"
	case DifferentBase:
		return "different base"
	}
	return fmt.Sprintf("DiffKind(%d)", int(k))
}

// Difference is one way in which table A differs from table B.
type Difference struct {
	Kind DiffKind
	// A and B are the sources of the two tables, in the order compared.
	A, B string
	// Event is the event concerned: for MissingEvent the one that exists
	// (in A when InA, else in B); for DifferentOffset A's.
	Event Event
	// Other is B's event at the same instant, for DifferentOffset.
	Other Event
	// InA says, for MissingEvent, that the event is in A and missing from B.
	InA bool
	// ExpiresA and ExpiresB are the expiries, for DifferentExpiry (zero when
	// a table states none).
	ExpiresA, ExpiresB time.Time
	// BaseA and BaseB are the base offsets, for DifferentBase.
	BaseA, BaseB int
	// Conflict reports a contradiction: the difference concerns an instant
	// that both tables cover (see Coverage), so at least one of them is wrong.
	// A different expiry, or an event beyond one table's coverage, is not one.
	Conflict bool
}

// String describes the difference in one line.
func (d Difference) String() string {
	switch d.Kind {
	case MissingEvent:
		has, lacks := d.A, d.B
		if !d.InA {
			has, lacks = d.B, d.A
		}
		return fmt.Sprintf("leap %s is in %s but not in %s", d.Event, has, lacks)
	case DifferentOffset:
		return fmt.Sprintf("at %s %s has TAI-UTC %d (%+d) but %s has %d (%+d)", d.Event.Effective.UTC().Format(time.RFC3339),
			d.A, d.Event.TAIUTC, d.Event.Delta, d.B, d.Other.TAIUTC, d.Other.Delta)
	case DifferentExpiry:
		return fmt.Sprintf("%s %s but %s %s", d.A, expiryPhrase(d.ExpiresA), d.B, expiryPhrase(d.ExpiresB))
	case DifferentBase:
		return fmt.Sprintf("%s starts from TAI-UTC %d in 1972 but %s from %d", d.A, d.BaseA, d.B, d.BaseB)
	}
	return d.Kind.String()
}

func expiryPhrase(at time.Time) string {
	if at.IsZero() {
		return "states no expiry"
	}
	return "expires " + at.UTC().Format(time.RFC3339)
}

// Coverage returns the last instant the table vouches for: its expiry, or
// its last event when it states none.
func (t *Table) Coverage() time.Time {
	if !t.Expires.IsZero() {
		return t.Expires
	}
	for i := len(t.Events) - 1; i >= 0; i-- {
		if !t.Events[i].Synthetic && !t.Events[i].Adopted {
			return t.Events[i].Effective
		}
	}
	return time.Time{}
}

// Compare lists how table a differs from table b: events missing from one,
// events with different offsets, a different expiry or base. It marks as
// Conflict the differences at instants both tables cover. Both tables must
// be valid (events ascending).
func Compare(a, b *Table) []Difference {
	var diffs []Difference
	common := a.Coverage()
	if cb := b.Coverage(); cb.Before(common) {
		common = cb
	}
	covered := func(at time.Time) bool { return !at.After(common) }
	if a.Base != b.Base {
		diffs = append(diffs, Difference{Kind: DifferentBase, A: a.Source, B: b.Source, BaseA: a.Base, BaseB: b.Base, Conflict: true})
	}
	i, j := 0, 0
	for i < len(a.Events) || j < len(b.Events) {
		switch {
		case j == len(b.Events) || (i < len(a.Events) && a.Events[i].Effective.Before(b.Events[j].Effective)):
			e := a.Events[i]
			diffs = append(diffs, Difference{Kind: MissingEvent, A: a.Source, B: b.Source, Event: e, InA: true, Conflict: covered(e.Effective)})
			i++
		case i == len(a.Events) || b.Events[j].Effective.Before(a.Events[i].Effective):
			e := b.Events[j]
			diffs = append(diffs, Difference{Kind: MissingEvent, A: a.Source, B: b.Source, Event: e, Conflict: covered(e.Effective)})
			j++
		default:
			if ea, eb := a.Events[i], b.Events[j]; !ea.equal(eb) {
				diffs = append(diffs, Difference{Kind: DifferentOffset, A: a.Source, B: b.Source, Event: ea, Other: eb, Conflict: covered(ea.Effective)})
			}
			i++
			j++
		}
	}
	if !a.Expires.Equal(b.Expires) {
		diffs = append(diffs, Difference{Kind: DifferentExpiry, A: a.Source, B: b.Source, ExpiresA: a.Expires, ExpiresB: b.Expires})
	}
	return diffs
}

// Conflicts returns the differences that are contradictions.
func Conflicts(diffs []Difference) []Difference {
	var out []Difference
	for _, d := range diffs {
		if d.Conflict {
			out = append(out, d)
		}
	}
	return out
}

// Corroborate vouches for a table of a format without a checksum (tzdata
// leapseconds, TZif) by a checksum-verified reference: it sets t.Verified when
// every event of t is also in ref, and every event of ref up to the end of
// both tables' coverage is in t, with the same base. Otherwise t stays
// unverified. Either way t.Verification says why, and the result is returned.
func Corroborate(t, ref *Table) bool {
	t.Verified = false
	reason := ""
	if !ref.Verified {
		reason = "the reference is not verified itself"
	} else {
		for _, d := range Compare(t, ref) {
			if d.Kind == DifferentExpiry || (d.Kind == MissingEvent && !d.InA && !d.Conflict) {
				// Expiries may differ, and t need not have the events that
				// ref holds beyond t's coverage.
				continue
			}
			reason = d.String()
			break
		}
	}
	if reason != "" {
		t.Verification = fmt.Sprintf("not corroborated by %s: %s", ref.Source, reason)
		return false
	}
	t.Verified, t.Verification = true, "corroborated by "+ref.Source
	return true
}

// Select picks the table to use from several sources at the instant at.
// Every pair of tables must agree on the instants both cover (see Coverage),
// expired or not, since no correct table contradicts another where both
// vouch for the events: otherwise Select returns an error naming both
// sources and the first event they disagree on, and picks none. Of the
// tables unexpired at at it picks the one with the latest expiry, preferring
// verified ones; when all are expired it picks the latest-expiring one, which
// the caller should warn about. Ties go to the earlier table. It also returns
// every difference between every pair, in order.
func Select(tables []*Table, at time.Time) (*Table, []Difference, error) {
	if len(tables) == 0 {
		return nil, nil, fmt.Errorf("no leap tables to choose from")
	}
	var (
		diffs    []Difference
		conflict *Difference
	)
	for i, a := range tables {
		for _, b := range tables[i+1:] {
			ds := Compare(a, b)
			diffs = append(diffs, ds...)
			if cs := Conflicts(ds); conflict == nil && len(cs) > 0 {
				conflict = &cs[0]
			}
		}
	}
	if conflict != nil {
		return nil, diffs, fmt.Errorf("leap tables %s and %s disagree: %s", conflict.A, conflict.B, conflict)
	}
	better := func(c, best *Table) bool {
		if best == nil {
			return true
		}
		if ce, be := c.Expired(at), best.Expired(at); ce != be {
			return !ce
		}
		if !c.Expired(at) && c.Verified != best.Verified {
			return c.Verified
		}
		return c.Expires.After(best.Expires)
	}
	var best *Table
	for _, t := range tables {
		if better(t, best) {
			best = t
		}
	}
	return best, diffs, nil
}
