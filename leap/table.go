// Package leap holds leap-second tables: the events, their expiry and provenance,
// parsers for the published formats (IETF/IERS leap-seconds.list, tzdata
// leapseconds, TZif right/ files), validation, cross-checking of several
// sources, and conversion between UTC, POSIX and TAI.
//
// The package is pure: parsers take bytes or an io.Reader, queries take
// instants as arguments, and nothing here reads a clock, a file or a socket.
package leap

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"time"
)

// BaseOffset is TAI-UTC, in seconds, from 1972-01-01T00:00:00Z until the first
// leap second.
const BaseOffset = 10

// Second is one second in nanoseconds, the unit of TAI values.
const Second int64 = 1e9

// TAI is an instant on the TAI scale in nanoseconds, counted the way Linux's
// CLOCK_TAI counts: POSIX time plus TAI-UTC. It never jumps at a leap second,
// which makes it the continuous scale that smearing is computed on.
type TAI int64

// UTC is true UTC in POSIX nanoseconds since 1970-01-01 (86 400 seconds a
// day, as time.Time.UnixNano counts): an inserted second repeats 23:59:59 and
// a deleted one is skipped. Convert from and to TAI with a table
// (Table.TAIFromUnix, Table.UnixFromTAI).
type UTC int64

// UTCFromTime returns t as true UTC.
func UTCFromTime(t time.Time) UTC { return UTC(t.UnixNano()) }

// Time returns u as a time.Time in UTC.
func (u UTC) Time() time.Time { return time.Unix(0, int64(u)).UTC() }

// Event is one leap second: from Effective on, TAI-UTC is TAIUTC.
type Event struct {
	// Effective is the 00:00:00 UTC instant (first day of a month) from which
	// the new offset holds. The leap second itself is the last second of the
	// day before: 23:59:60 inserted, or 23:59:59 deleted.
	Effective time.Time
	// TAIUTC is TAI-UTC in seconds from Effective on.
	TAIUTC int
	// Delta is +1 for an inserted second and -1 for a deleted one.
	Delta int
	// Synthetic marks a rehearsal leap (see Table.WithRehearsal): it may take
	// effect at any whole second, not only at the start of a month.
	Synthetic bool
	// Adopted marks a leap second that the table's publisher did not list
	// but that sources announced and the server adopted (see
	// Table.WithAdopted): the table's expiry does not vouch for it.
	Adopted bool
}

// Unix returns the POSIX seconds of the instant the event takes effect.
func (e Event) Unix() int64 { return e.Effective.Unix() }

// Before returns TAI-UTC, in seconds, just before the event.
func (e Event) Before() int { return e.TAIUTC - e.Delta }

// Day returns the UTC day the leap second belongs to (the day before Effective).
func (e Event) Day() time.Time { return e.Effective.AddDate(0, 0, -1) }

// TAI returns the TAI instant from which the new offset holds: the end of the
// inserted second, or the instant the deleted second would have started.
func (e Event) TAI() TAI { return TAI((e.Unix() + int64(e.TAIUTC)) * Second) }

// String renders the event as "2016-12-31 23:59:60 +1 (TAI-UTC 37)", or
// "2029-06-30 23:59:59 deleted -1 (TAI-UTC 36)" for a deleted second. A
// synthetic one says so, and where it is not at midnight it names the
// second that repeats or is skipped, as POSIX time shows it: "rehearsal leap
// at 2026-11-23T12:00:00Z +1: 11:59:59 repeats (TAI-UTC 38)". An adopted one
// says so too: "2027-12-31 23:59:60 +1 (TAI-UTC 38, adopted)".
func (e Event) String() string {
	if e.Synthetic && !e.atMidnight() {
		what := "repeats"
		if e.Delta < 0 {
			what = "is skipped"
		}
		return fmt.Sprintf("rehearsal leap at %s %+d: %s %s (TAI-UTC %d)", e.Effective.UTC().Format(time.RFC3339), e.Delta,
			e.Effective.Add(-time.Second).UTC().Format(time.TimeOnly), what, e.TAIUTC)
	}
	clock := "23:59:60"
	if e.Delta < 0 {
		clock = "23:59:59 deleted"
	}
	kind, adopted := "", ""
	if e.Synthetic {
		kind = "synthetic, "
	}
	if e.Adopted {
		adopted = ", adopted"
	}
	return fmt.Sprintf("%s %s %+d (%sTAI-UTC %d%s)", e.Day().Format("2006-01-02"), clock, e.Delta, kind, e.TAIUTC, adopted)
}

// atMidnight reports whether the event takes effect at 00:00:00 UTC, where a
// leap second can be named 23:59:60.
func (e Event) atMidnight() bool {
	h, m, s := e.Effective.UTC().Clock()
	return h == 0 && m == 0 && s == 0
}

// equal reports whether two events describe the same leap: same instant,
// same offset after it, same sign.
func (e Event) equal(o Event) bool {
	return e.Effective.Equal(o.Effective) && e.TAIUTC == o.TAIUTC && e.Delta == o.Delta
}

// Table is a leap-second table and what is known of where it came from.
type Table struct {
	// Events in ascending order; the 1972 base offset is not an event.
	Events []Event
	// Base is TAI-UTC before the first event (10 s for every real table).
	Base int
	// Updated is when the publisher last updated the data; zero when unknown.
	Updated time.Time
	// Expires is when the table stops promising that no further leap is
	// scheduled; zero when the source states none.
	Expires time.Time
	// Source names where the table came from (a path or "embedded").
	Source string
	// Format is the file format the table was parsed from; empty for a
	// table built in code.
	Format Format
	// Verified reports that the table's integrity was checked: the checksum
	// of a leap-seconds.list matched, or every event of a format without a
	// checksum was corroborated by a verified table (see Corroborate).
	Verified bool
	// Verification says in words how Verified was decided.
	Verification string
}

// Validate checks that the events are usable: strictly ascending, each
// changing TAI-UTC by exactly +1 or -1 from the one before, each taking effect
// at 00:00:00 UTC on the first day of a month (a synthetic rehearsal event at
// any whole second), all between 1972 and 2200, and the expiry (when known)
// after the last real event.
func (t *Table) Validate() error {
	if _, err := t.check(); err != nil {
		return fmt.Errorf("leap table %s: %w", t.Source, err)
	}
	return nil
}

// firstInstant and endInstant bound the instants a table may name: leap
// seconds began in 1972, and TAI nanoseconds overflow int64 in 2262.
var (
	firstInstant = time.Date(1972, 1, 1, 0, 0, 0, 0, time.UTC)
	endInstant   = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// check is Validate without the table's name, that also returns the index of
// the offending event (-1 when the fault is not one event's), so that parsers
// can name its line.
func (t *Table) check() (int, error) {
	prev := t.Base
	var prevAt, lastReal time.Time
	for i, e := range t.Events {
		at := e.Effective.UTC()
		if !at.After(firstInstant) || !at.Before(endInstant) {
			return i, fmt.Errorf("event %d (%s) is %w", i+1, at.Format(time.RFC3339), ErrOutOfRange)
		}
		if e.Synthetic {
			if at.Nanosecond() != 0 {
				return i, fmt.Errorf("rehearsal event %d (%s) is not at a whole second", i+1, at.Format(time.RFC3339Nano))
			}
		} else if at.Day() != 1 || at.Hour() != 0 || at.Minute() != 0 || at.Second() != 0 || at.Nanosecond() != 0 {
			return i, fmt.Errorf("event %d (%s) does not take effect at 00:00:00 UTC on the first day of a month", i+1, at.Format(time.RFC3339Nano))
		}
		if i > 0 && !at.After(prevAt) {
			return i, fmt.Errorf("event %d (%s) is not after the event before it (%s)", i+1, at.Format(time.RFC3339), prevAt.Format(time.RFC3339))
		}
		if e.Delta != 1 && e.Delta != -1 {
			return i, fmt.Errorf("event %d (%s) has delta %d, want +1 or -1", i+1, at.Format(time.RFC3339), e.Delta)
		}
		if e.TAIUTC-prev != e.Delta {
			return i, fmt.Errorf("event %d (%s) changes TAI-UTC from %d to %d, not by its delta %+d", i+1, at.Format(time.RFC3339), prev, e.TAIUTC, e.Delta)
		}
		prev, prevAt = e.TAIUTC, at
		if !e.Synthetic && !e.Adopted {
			lastReal = at
		}
	}
	if !t.Expires.IsZero() {
		if !t.Expires.After(firstInstant) || !t.Expires.Before(endInstant) {
			return -1, fmt.Errorf("expires %s, %w", t.Expires.UTC().Format(time.RFC3339), ErrOutOfRange)
		}
		if !lastReal.IsZero() && !t.Expires.After(lastReal) {
			return -1, fmt.Errorf("expires %s, not after its last event %s", t.Expires.UTC().Format(time.RFC3339), lastReal.Format(time.RFC3339))
		}
	}
	return -1, nil
}

// Fingerprint identifies the leaps of the table: the first 12 hex digits of
// the SHA-256 of its base offset and of each event's instant, offset and
// sign. Two servers with the same policy and fingerprint serve the same time;
// the expiry and provenance do not enter it.
func (t *Table) Fingerprint() string {
	h := sha256.New()
	fmt.Fprintf(h, "base %d\n", t.Base)
	for _, e := range t.Events {
		fmt.Fprintf(h, "%d %d %+d\n", e.Unix(), e.TAIUTC, e.Delta)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// Clone returns a deep copy of the table.
func (t *Table) Clone() *Table {
	c := *t
	c.Events = append([]Event(nil), t.Events...)
	return &c
}

// Expired reports whether the table no longer vouches for instant at: at is
// on or after its expiry, or the table states no expiry at all.
func (t *Table) Expired(at time.Time) bool {
	return t.Expires.IsZero() || !at.Before(t.Expires)
}

// Last returns the newest event, and false for a table without events.
func (t *Table) Last() (Event, bool) {
	if len(t.Events) == 0 {
		return Event{}, false
	}
	return t.Events[len(t.Events)-1], true
}

// OffsetAt returns TAI-UTC in seconds at the UTC instant at. During an
// inserted leap second (which POSIX time cannot name) the old offset holds.
func (t *Table) OffsetAt(at time.Time) int {
	return t.offsetAtUnix(at.Unix())
}

func (t *Table) offsetAtUnix(sec int64) int {
	i := sort.Search(len(t.Events), func(i int) bool { return t.Events[i].Unix() > sec })
	if i == 0 {
		return t.Base
	}
	return t.Events[i-1].TAIUTC
}

// Next returns the first event that takes effect after the instant at.
func (t *Table) Next(at time.Time) (Event, bool) {
	sec := at.Unix()
	i := sort.Search(len(t.Events), func(i int) bool { return t.Events[i].Unix() > sec })
	if i == len(t.Events) {
		return Event{}, false
	}
	return t.Events[i], true
}

// Find returns the event whose leap second belongs to the UTC day of day.
func (t *Table) Find(day time.Time) (Event, bool) {
	y, m, d := day.UTC().Date()
	for _, e := range t.Events {
		if ey, em, ed := e.Day().Date(); ey == y && em == m && ed == d {
			return e, true
		}
	}
	return Event{}, false
}

// TAIFromUnix converts POSIX nanoseconds to TAI. POSIX time repeats during an
// inserted second; the earlier reading (23:59:59) is taken. A POSIX reading
// inside a deleted second, which true UTC never shows, maps to the same TAI
// as the reading one second later.
func (t *Table) TAIFromUnix(u UTC) TAI {
	return TAI(int64(u) + int64(t.offsetAtUnix(floorDiv(int64(u), Second)))*Second)
}

// TAIFromTime converts a UTC time to TAI, as TAIFromUnix.
func (t *Table) TAIFromTime(at time.Time) TAI {
	return t.TAIFromUnix(UTCFromTime(at))
}

// OffsetAtTAI returns TAI-UTC in seconds at a TAI instant. During an inserted
// second the new offset already holds, so that UnixFromTAI repeats 23:59:59 as
// POSIX clocks do; a deleted second never happens.
func (t *Table) OffsetAtTAI(x TAI) int {
	// Offsets switch at the TAI instant where POSIX time would repeat or skip:
	// the start of 23:59:60 for an inserted second (TAI = T + old offset), the
	// start of the deleted 23:59:59 for a deleted one (TAI = T + new offset).
	i := sort.Search(len(t.Events), func(i int) bool { return t.Events[i].Jump() > x })
	if i == 0 {
		return t.Base
	}
	return t.Events[i-1].TAIUTC
}

// Jump returns the TAI instant at which POSIX time repeats (the start of an
// inserted 23:59:60) or skips (the start of a deleted 23:59:59) because of e.
func (e Event) Jump() TAI {
	return TAI((e.Unix() + int64(min(e.TAIUTC, e.Before()))) * Second)
}

// UnixFromTAI converts TAI to POSIX nanoseconds of true UTC: during an
// inserted second the POSIX value repeats 23:59:59, and the deleted 23:59:59
// is skipped.
func (t *Table) UnixFromTAI(x TAI) UTC {
	return UTC(int64(x) - int64(t.OffsetAtTAI(x))*Second)
}

// Label is a UTC clock reading, which unlike time.Time can name the inserted
// second 23:59:60.
type Label struct {
	// Time is the reading with second 59 in place of 60.
	Time time.Time
	// Leap is true for a reading inside an inserted second (23:59:60).
	Leap bool
}

// String renders the label in RFC 3339 with nanoseconds, writing 23:59:60
// for an inserted second. An inserted second that does not end a UTC day (a
// rehearsal's) has no such name: it is written as the second it repeats,
// followed by " (repeated)".
func (l Label) String() string {
	s := l.Time.UTC().Format(time.RFC3339Nano)
	if h, m, _ := l.Time.UTC().Clock(); l.Leap && (h != 23 || m != 59) {
		return s + " (repeated)"
	}
	if l.Leap {
		// "...T23:59:59..." -> "...T23:59:60...": the seconds sit at offset 17.
		s = s[:17] + "60" + s[19:]
	}
	return s
}

// ParseLabel reads an RFC 3339 time, as ParseInstant does, that may name
// second 60 (in UTC, at 23:59).
func ParseLabel(s string) (Label, error) {
	leapSecond := len(s) >= 19 && s[10] == 'T' && s[17:19] == "60"
	in := s
	if leapSecond {
		in = s[:17] + "59" + s[19:]
	}
	at, err := parseInstant(in, s)
	if err != nil {
		return Label{}, err
	}
	if err := checkInstant(at); err != nil {
		return Label{}, fmt.Errorf("%w, the span of leap tables", err)
	}
	if leapSecond {
		if h, m, _ := at.Clock(); h != 23 || m != 59 {
			return Label{}, fmt.Errorf("time %q: second 60 exists only at 23:59 UTC", s)
		}
		if _, off := at.Zone(); off != 0 {
			return Label{}, fmt.Errorf("time %q: second 60 must be given in UTC", s)
		}
	}
	return Label{Time: at.UTC(), Leap: leapSecond}, nil
}

// LabelFromTAI names a TAI instant as a UTC clock reading.
func (t *Table) LabelFromTAI(x TAI) Label {
	at := t.UnixFromTAI(x).Time()
	// Inside an inserted second the new offset holds already, so x falls in
	// [switch, event TAI) of a positive event.
	i := sort.Search(len(t.Events), func(i int) bool { return t.Events[i].TAI() > x })
	if i < len(t.Events) && t.Events[i].Delta > 0 && x >= t.Events[i].Jump() {
		return Label{Time: at, Leap: true}
	}
	return Label{Time: at}
}

// TAIFromLabel converts a UTC clock reading to TAI. It fails for a second 60
// where the table inserts no second, and for the 23:59:59 that a deleted
// second removed.
func (t *Table) TAIFromLabel(l Label) (TAI, error) {
	unix := l.Time.UnixNano()
	sec := floorDiv(unix, Second)
	// The event, if any, that takes effect at the end of this second.
	i := sort.Search(len(t.Events), func(i int) bool { return t.Events[i].Unix() > sec })
	var e Event
	atEnd := i < len(t.Events) && t.Events[i].Unix() == sec+1
	if atEnd {
		e = t.Events[i]
	}
	if l.Leap {
		if !atEnd || e.Delta < 0 {
			return 0, fmt.Errorf("%s: leap table %s inserts no second there", l, t.Source)
		}
		// Second 60 starts at the switch instant T + old offset.
		frac := unix - sec*Second
		return TAI((e.Unix()+int64(e.Before()))*Second + frac), nil
	}
	if atEnd && e.Delta < 0 {
		return 0, fmt.Errorf("%s: this second was deleted by leap table %s (UTC went from 23:59:58 straight to 00:00:00 at the end of %s): it never happened; give an instant before or after it",
			l, t.Source, e.Effective.AddDate(0, 0, -1).Format("2006-01-02"))
	}
	return t.TAIFromUnix(UTC(unix)), nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
