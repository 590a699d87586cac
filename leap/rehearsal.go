package leap

import (
	"fmt"
	"strings"
	"time"
)

// RehearsalMargin is how close to a real event a rehearsal leap may not be.
const RehearsalMargin = 24 * time.Hour

// Rehearsal is one synthetic leap second to rehearse: at the whole second
// At, TAI-UTC changes by Delta (+1 inserts a second, -1 deletes one).
type Rehearsal struct {
	At    time.Time
	Delta int
}

// String renders the rehearsal as --rehearse takes it: "2026-11-23T15:00:00Z,+1".
func (r Rehearsal) String() string {
	return fmt.Sprintf("%s,%+d", r.At.UTC().Format(time.RFC3339), r.Delta)
}

// WithRehearsal returns a copy of the table with one synthetic leap second
// that takes effect at the whole second at: TAI-UTC becomes the offset before
// it plus delta (+1 inserts a second, -1 deletes one), and every later event
// is shifted by delta. It refuses an instant within RehearsalMargin of an
// event of the table, and the copy's Source says it is a rehearsal.
func (t *Table) WithRehearsal(at time.Time, delta int) (*Table, error) {
	at = at.UTC()
	if delta != 1 && delta != -1 {
		return nil, fmt.Errorf("rehearsal leap at %s: delta %d, want +1 or -1", at.Format(time.RFC3339Nano), delta)
	}
	if at.Nanosecond() != 0 {
		return nil, fmt.Errorf("rehearsal leap at %s: must be a whole second", at.Format(time.RFC3339Nano))
	}
	if !at.After(firstInstant) || !at.Before(endInstant) {
		return nil, fmt.Errorf("rehearsal leap at %s: %w", at.Format(time.RFC3339), ErrOutOfRange)
	}
	r := t.Clone()
	r.Events = r.Events[:0]
	inserted := false
	for _, e := range t.Events {
		if d := e.Effective.Sub(at); d < RehearsalMargin && d > -RehearsalMargin {
			return nil, fmt.Errorf("rehearsal leap at %s: within %v of the leap %s in leap table %s", at.Format(time.RFC3339), RehearsalMargin, e, t.Source)
		}
		if !inserted && e.Effective.After(at) {
			r.Events = append(r.Events, Event{Effective: at, TAIUTC: e.Before() + delta, Delta: delta, Synthetic: true})
			inserted = true
		}
		if inserted {
			e.TAIUTC += delta
		}
		r.Events = append(r.Events, e)
	}
	if !inserted {
		r.Events = append(r.Events, Event{Effective: at, TAIUTC: t.offsetAtUnix(at.Unix()) + delta, Delta: delta, Synthetic: true})
	}
	r.Source = fmt.Sprintf("%s + rehearsal leap %s %+d", t.Source, at.Format(time.RFC3339), delta)
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r, nil
}

// ParseRehearsal reads the value of --rehearse: an instant and a leap,
// "2026-11-23T15:00:00Z,+1" or "now+90s,-1". The instant is RFC 3339 in whole
// seconds, or "now" or "now+DURATION" (case-insensitive, Go duration syntax)
// relative to now, rounded up to the next whole second. The leap is +1 (an
// inserted second) or -1 (a deleted one). The instant must not be before now.
//
// A rehearsal does not change the clock source: the source keeps mapping the
// host clock with the real table, and only the smear uses the table with the
// synthetic leap added (Table.WithRehearsal), so after a rehearsed +1 leap
// the served time is the host's realtime minus one second.
func ParseRehearsal(s string, now time.Time) (Rehearsal, error) {
	at, delta, err := parseRehearsal(s, now)
	return Rehearsal{At: at, Delta: delta}, err
}

func parseRehearsal(s string, now time.Time) (at time.Time, delta int, err error) {
	const want = "want INSTANT,+1 or INSTANT,-1 such as 2026-11-23T15:00:00Z,+1 or now+2m,-1"
	inst, leapStr, ok := strings.Cut(s, ",")
	if !ok {
		return time.Time{}, 0, fmt.Errorf("rehearsal %q: %s", s, want)
	}
	switch strings.TrimSpace(leapStr) {
	case "+1", "1":
		delta = 1
	case "-1":
		delta = -1
	default:
		return time.Time{}, 0, fmt.Errorf("rehearsal %q: leap %q must be +1 or -1", s, strings.TrimSpace(leapStr))
	}
	inst = strings.TrimSpace(inst)
	if lower := strings.ToLower(inst); strings.HasPrefix(lower, "now") {
		at, err = relative(lower, now)
		if err != nil {
			return time.Time{}, 0, fmt.Errorf("rehearsal %q: %w", s, err)
		}
	} else {
		at, err = ParseInstant(inst)
		if err != nil {
			return time.Time{}, 0, fmt.Errorf("rehearsal %q: %w, or now+DURATION such as now+2m", s, err)
		}
		if at.Nanosecond() != 0 {
			return time.Time{}, 0, fmt.Errorf("rehearsal %q: the leap must start on a whole second", s)
		}
	}
	if at.Before(now) {
		return time.Time{}, 0, fmt.Errorf("rehearsal %q: %s is in the past (now is %s)", s,
			at.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return at.UTC(), delta, nil
}

// relative reads "now" or "now+DURATION" (lower case) and rounds the result
// up to a whole second.
func relative(s string, now time.Time) (time.Time, error) {
	var d time.Duration
	if rest := strings.TrimPrefix(s, "now"); rest != "" {
		if rest[0] != '+' {
			return time.Time{}, fmt.Errorf("relative instant %q: want now or now+DURATION such as now+2m", s)
		}
		var err error
		if d, err = time.ParseDuration(rest[1:]); err != nil {
			return time.Time{}, &reason{fmt.Sprintf("relative instant %q: want now+DURATION such as now+2m or now+1h30m (units s, m, h)", s), err}
		}
		if d < 0 {
			return time.Time{}, fmt.Errorf("relative instant %q: the duration must not be negative", s)
		}
	}
	at := now.Add(d)
	if r := at.Truncate(time.Second); r.Before(at) {
		at = r.Add(time.Second)
	}
	return at, nil
}
