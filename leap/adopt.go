package leap

import (
	"fmt"
	"time"
)

// WithAdopted returns a copy of the table with one more leap second, which
// the table's publisher did not list but which sources announced (a server
// adopts it when enough of them agree and the table is stale): TAI-UTC
// changes by delta (+1 or -1) at effective, 00:00:00 UTC on the first day of
// a month, after every event of the table. The expiry stays as it is, so the
// copy still reports itself expired; the event is marked Adopted and the
// copy's Source says it was adopted.
func (t *Table) WithAdopted(effective time.Time, delta int) (*Table, error) {
	effective = effective.UTC()
	if last, ok := t.Last(); ok && !effective.After(last.Effective) {
		return nil, fmt.Errorf("adopted leap at %s: not after the last leap of table %s (%s)",
			effective.Format(time.RFC3339), t.Source, last.Effective.UTC().Format(time.RFC3339))
	}
	r := t.Clone()
	r.Events = append(r.Events, Event{Effective: effective, TAIUTC: t.offsetAtUnix(effective.Unix()) + delta, Delta: delta, Adopted: true})
	r.Source = fmt.Sprintf("%s + adopted leap %s", t.Source, r.Events[len(r.Events)-1])
	if _, err := r.check(); err != nil {
		return nil, fmt.Errorf("adopted leap at %s: %w", effective.Format(time.RFC3339), err)
	}
	return r, nil
}
