package leap

import (
	"fmt"
	"time"
)

// RehearsalMargin is how close to a real event a rehearsal leap may not be.
const RehearsalMargin = 24 * time.Hour

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
		return nil, fmt.Errorf("rehearsal leap at %s: outside 1972-01-01..2200-01-01", at.Format(time.RFC3339))
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
