// Package leapcheck compares what several sources announce about upcoming
// leap seconds (the host kernel, upstream NTP servers, chronyd, ...) with a
// leap table, and says for each leap date whether they agree, whether the
// table knows a leap nobody else announces yet, whether a source announces a
// leap the table does not have (a stale table), or whether a source is faulty
// (it announces a leap on a date the table rules out, or on an impossible
// date).
//
// The package is pure: every function takes the instant to judge at as an
// argument, and nothing here reads a clock, a file or a socket. Package
// leapsource reads the sources.
package leapcheck

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/leapsmear/leapsmear/leap"
)

// Announcement is a leap second announced for the end of one UTC day.
type Announcement struct {
	// Day is 00:00:00 UTC of the last day before the leap: the day that
	// gets a 23:59:60 (Sign +1) or loses its 23:59:59 (Sign -1).
	Day time.Time
	// Sign is +1 for an inserted second, -1 for a deleted one.
	Sign int
}

// Effective returns the instant from which the new TAI-UTC holds: the
// midnight that ends Day.
func (a Announcement) Effective() time.Time { return a.Day.AddDate(0, 0, 1) }

// Date returns Day as YYYY-MM-DD, the form the --leap flags take.
func (a Announcement) Date() string { return a.Day.Format(time.DateOnly) }

// String renders the announcement as "2027-12-31 +1".
func (a Announcement) String() string { return fmt.Sprintf("%s %+d", a.Date(), a.Sign) }

// phrase renders the announcement for sentences: "a leap second (+1) at the
// end of 2027-12-31".
func (a Announcement) phrase() string {
	kind := "an inserted leap second (+1)"
	if a.Sign < 0 {
		kind = "a deleted leap second (-1)"
	}
	return kind + " at the end of " + a.Date()
}

// day returns 00:00:00 UTC of the UTC day of t.
func day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// EndOfDay is what the host kernel and chronyd mean by an armed leap: a
// leap second of the given sign at the end of the current UTC day of at.
func EndOfDay(at time.Time, sign int) Announcement {
	return Announcement{Day: day(at), Sign: sign}
}

// EndOfMonth is how an NTP leap indicator is read: a leap second of the
// given sign at the end of the last day of the UTC month of at. Servers set
// the indicator days to months ahead, but it can only name the end of the
// current month.
func EndOfMonth(at time.Time, sign int) Announcement {
	y, m, _ := at.UTC().Date()
	return Announcement{Day: time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC), Sign: sign}
}

// EventAnnouncement returns the announcement of a table event: the UTC day
// of the last second before it takes effect (for a rehearsal event at any
// whole second, the day of that second).
func EventAnnouncement(e leap.Event) Announcement {
	return Announcement{Day: day(e.Effective.Add(-time.Second)), Sign: e.Delta}
}

// Months is a set of months at whose end a leap second may be scheduled:
// bit m for time.Month m.
type Months uint16

// Month sets.
const (
	// JuneDecember is where every leap second so far has been, and where
	// IERS puts them first: the default.
	JuneDecember Months = 1<<time.June | 1<<time.December
	// AnyMonth allows the end of every month, as the IERS may choose.
	AnyMonth Months = 0x1ffe
)

// Has reports whether m includes month.
func (m Months) Has(month time.Month) bool { return m&(1<<month) != 0 }

// String renders the set as "June, December", "any month" or "none".
func (m Months) String() string {
	if m&AnyMonth == AnyMonth {
		return "any month"
	}
	var names []string
	for mo := time.January; mo <= time.December; mo++ {
		if m.Has(mo) {
			names = append(names, mo.String())
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// ParseMonths reads a set of months: "any", or a comma-separated list of
// month names (English, full or three letters, any case) or numbers 1 to 12,
// such as "june,december" or "3,6,9,12".
func ParseMonths(s string) (Months, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "any" {
		return AnyMonth, nil
	}
	var m Months
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		mo, ok := monthByName(part)
		if !ok {
			return 0, fmt.Errorf("leap months %q: %q is not a month (want any, or names or numbers such as june,december or 6,12)", s, part)
		}
		m |= 1 << mo
	}
	return m, nil
}

func monthByName(s string) (time.Month, bool) {
	if n, err := strconv.Atoi(s); err == nil {
		if n >= 1 && n <= 12 {
			return time.Month(n), true
		}
		return 0, false
	}
	for mo := time.January; mo <= time.December; mo++ {
		name := strings.ToLower(mo.String())
		if s == name || (len(s) == 3 && strings.HasPrefix(name, s)) {
			return mo, true
		}
	}
	return 0, false
}

// possible says why a leap second cannot be at the end of a's day, or ""
// when it can: it must be the last day of a month in months.
func possible(a Announcement, months Months) string {
	if a.Sign != 1 && a.Sign != -1 {
		return fmt.Sprintf("sign %d is not +1 or -1", a.Sign)
	}
	if a.Effective().Day() != 1 {
		return a.Date() + " is not the last day of a month"
	}
	if !months.Has(a.Day.Month()) {
		return fmt.Sprintf("leap seconds are expected only at the end of %s (--leap-months)", months)
	}
	return ""
}
