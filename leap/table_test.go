package leap

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestValidateAcceptsRealAndSyntheticTables(t *testing.T) {
	for _, tb := range []*Table{Default(), negTable(), table("empty", time.Time{})} {
		if err := tb.Validate(); err != nil {
			t.Errorf("%s: %v", tb.Source, err)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		if tb := randomTable(r); tb.Validate() != nil {
			t.Fatalf("random table: %v", tb.Validate())
		}
	}
}

func TestValidateRejects(t *testing.T) {
	jul72, jan73 := utc(1972, 7, 1), utc(1973, 1, 1)
	cases := []struct {
		name string
		tb   *Table
		want string
	}{
		{"not ascending", table("t", time.Time{}, jan73, 1, jul72, 1), "event 2 (1972-07-01T00:00:00Z) is not after"},
		{"same instant twice", table("t", time.Time{}, jan73, 1, jan73, 1), "is not after"},
		{"mid-month", table("t", time.Time{}, utc(1972, 7, 2), 1), "first day of a month"},
		{"not midnight", table("t", time.Time{}, jul72.Add(time.Hour), 1), "00:00:00 UTC"},
		{"fraction of a second", table("t", time.Time{}, jul72.Add(time.Millisecond), 1), "00:00:00 UTC"},
		{"before 1972", table("t", time.Time{}, utc(1971, 7, 1), 1), "outside 1972-01-01..2200-01-01"},
		{"1972 base instant", table("t", time.Time{}, utc(1972, 1, 1), 1), "outside"},
		{"after 2200", table("t", time.Time{}, utc(2200, 1, 1), 1), "outside"},
		{"expiry before last event", table("t", utc(1972, 6, 28), jul72, 1), "not after its last event"},
		{"expiry at last event", table("t", jul72, jul72, 1), "not after its last event"},
		{"expiry after 2200", table("t", utc(2201, 1, 1), jul72, 1), "expires 2201"},
		{"delta 2", &Table{Source: "t", Base: 10, Events: []Event{{Effective: jul72, TAIUTC: 12, Delta: 2}}}, "has delta 2"},
		{"delta 0", &Table{Source: "t", Base: 10, Events: []Event{{Effective: jul72, TAIUTC: 10, Delta: 0}}}, "has delta 0"},
		{"offset not stepped by delta", &Table{Source: "t", Base: 10, Events: []Event{{Effective: jul72, TAIUTC: 12, Delta: 1}}}, "from 10 to 12"},
		{"negative delta but offset up", &Table{Source: "t", Base: 10, Events: []Event{{Effective: jul72, TAIUTC: 11, Delta: -1}}}, "not by its delta -1"},
		{"synthetic fraction", &Table{Source: "t", Base: 10, Events: []Event{{Effective: jul72.Add(time.Millisecond), TAIUTC: 11, Delta: 1, Synthetic: true}}}, "whole second"},
	}
	for _, c := range cases {
		err := c.tb.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "leap table t: ") {
			t.Errorf("%s: got %v, want an error with %q", c.name, err, c.want)
		}
	}
}

func TestValidateSyntheticEvent(t *testing.T) {
	// A rehearsal event may be at any whole second, and the expiry refers to
	// the real events only.
	tb := table("t", utc(1973, 6, 28), utc(1972, 7, 1), 1)
	tb.Events = append(tb.Events, Event{Effective: time.Date(1973, 8, 14, 13, 7, 9, 0, time.UTC), TAIUTC: 10, Delta: -1, Synthetic: true})
	if err := tb.Validate(); err != nil {
		t.Fatal(err)
	}
	tb.Events[1].Synthetic = false
	if err := tb.Validate(); err == nil {
		t.Fatal("a real event at 13:07:09 validated")
	}
}

func TestExpired(t *testing.T) {
	tb := table("t", utc(2026, 6, 28), utc(2017, 1, 1), 1)
	for _, c := range []struct {
		at   time.Time
		want bool
	}{
		{utc(2026, 6, 27), false},
		{utc(2026, 6, 28).Add(-time.Nanosecond), false},
		{utc(2026, 6, 28), true},
		{utc(2030, 1, 1), true},
	} {
		if got := tb.Expired(c.at); got != c.want {
			t.Errorf("Expired(%v) = %v, want %v", c.at, got, c.want)
		}
	}
	tb.Expires = time.Time{}
	if !tb.Expired(utc(1980, 1, 1)) {
		t.Error("a table that states no expiry is not treated as expired")
	}
}

func TestOffsetNextFind(t *testing.T) {
	d := Default()
	jan17 := utc(2017, 1, 1)
	for _, c := range []struct {
		at   time.Time
		want int
	}{
		{utc(1970, 1, 1), 10},
		{utc(1972, 6, 30), 10},
		{utc(1972, 7, 1), 11},
		{jan17.Add(-time.Nanosecond), 36},
		{jan17, 37},
		{utc(2026, 1, 1), 37},
	} {
		if got := d.OffsetAt(c.at); got != c.want {
			t.Errorf("OffsetAt(%v) = %d, want %d", c.at, got, c.want)
		}
	}
	if e, ok := d.Next(jan17.Add(-time.Nanosecond)); !ok || !e.Effective.Equal(jan17) || e.TAIUTC != 37 {
		t.Errorf("Next just before 2017: %v %v", e, ok)
	}
	if e, ok := d.Next(jan17); ok {
		t.Errorf("Next at 2017-01-01 = %v, want none", e)
	}
	if e, ok := d.Next(utc(1900, 1, 1)); !ok || e.TAIUTC != 11 {
		t.Errorf("Next in 1900 = %v, want the first event", e)
	}
	if e, ok := d.Find(time.Date(2016, 12, 31, 15, 0, 0, 0, time.UTC)); !ok || !e.Effective.Equal(jan17) {
		t.Errorf("Find(2016-12-31) = %v %v", e, ok)
	}
	if _, ok := d.Find(utc(2016, 12, 30)); ok {
		t.Error("Find(2016-12-30) found an event")
	}
	if e, ok := d.Last(); !ok || !e.Effective.Equal(jan17) {
		t.Errorf("Last = %v", e)
	}
	if _, ok := (&Table{}).Last(); ok {
		t.Error("Last of an empty table")
	}
	neg := negTable()
	if got := neg.OffsetAt(utc(1973, 1, 1).Add(-time.Second)); got != 11 {
		t.Errorf("negative: OffsetAt(23:59:59) = %d, want 11", got)
	}
	if got := neg.OffsetAt(utc(1973, 1, 1)); got != 10 {
		t.Errorf("negative: OffsetAt(1973-01-01) = %d, want 10", got)
	}
}

func TestEventString(t *testing.T) {
	for _, c := range []struct {
		e    Event
		want string
	}{
		{Event{Effective: utc(2017, 1, 1), TAIUTC: 37, Delta: 1}, "2016-12-31 23:59:60 +1 (TAI-UTC 37)"},
		{Event{Effective: utc(2029, 7, 1), TAIUTC: 36, Delta: -1}, "2029-06-30 23:59:59 deleted -1 (TAI-UTC 36)"},
		{Event{Effective: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC), TAIUTC: 38, Delta: 1, Synthetic: true}, "rehearsal leap at 2026-11-23T12:00:00Z +1: 11:59:59 repeats (TAI-UTC 38)"},
		{Event{Effective: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC), TAIUTC: 36, Delta: -1, Synthetic: true}, "rehearsal leap at 2026-11-23T12:00:00Z -1: 11:59:59 is skipped (TAI-UTC 36)"},
		{Event{Effective: time.Date(2030, 7, 1, 0, 0, 0, 0, time.UTC), TAIUTC: 36, Delta: -1, Synthetic: true}, "2030-06-30 23:59:59 deleted -1 (synthetic, TAI-UTC 36)"},
	} {
		if got := c.e.String(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}

// secs is the TAI instant s seconds (plus ns nanoseconds) on the TAI scale.
func secs(s int64, ns ...int64) TAI {
	x := s * Second
	for _, n := range ns {
		x += n
	}
	return TAI(x)
}

func TestInsertedSecondLabels(t *testing.T) {
	d := Default()
	// 2017-01-01T00:00:00Z is POSIX 1483228800; TAI-UTC is 36 before, 37 after.
	const t0 = 1483228800
	for _, c := range []struct {
		x    TAI
		want string
	}{
		{secs(t0 - 1 + 36 - 1), "2016-12-31T23:59:58Z"},
		{secs(t0 - 1 + 36), "2016-12-31T23:59:59Z"},
		{secs(t0-1+36, Second/2), "2016-12-31T23:59:59.5Z"},
		{secs(t0 + 36), "2016-12-31T23:59:60Z"},
		{secs(t0+36, Second/4), "2016-12-31T23:59:60.25Z"},
		{secs(t0+37) - 1, "2016-12-31T23:59:60.999999999Z"},
		{secs(t0 + 37), "2017-01-01T00:00:00Z"},
		{secs(t0 + 37 + 1), "2017-01-01T00:00:01Z"},
	} {
		l := d.LabelFromTAI(c.x)
		if got := l.String(); got != c.want {
			t.Errorf("LabelFromTAI(%d) = %s, want %s", c.x, got, c.want)
		}
		p, err := ParseLabel(c.want)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := d.TAIFromLabel(p); err != nil || back != c.x {
			t.Errorf("TAIFromLabel(%s) = %d, %v, want %d", c.want, back, err, c.x)
		}
	}
	// During 23:59:60 POSIX time repeats 23:59:59 and the new offset holds.
	x := secs(t0+36, Second/2)
	if got, want := d.UnixFromTAI(x), UTC(int64(t0-1)*Second+Second/2); got != want {
		t.Errorf("UnixFromTAI(23:59:60.5) = %d, want %d", got, want)
	}
	if got := d.OffsetAtTAI(x); got != 37 {
		t.Errorf("OffsetAtTAI(23:59:60.5) = %d, want 37", got)
	}
	// The repeated POSIX reading maps back to the first 23:59:59.5.
	if got, want := d.TAIFromUnix(UTC(int64(t0-1)*Second+Second/2)), secs(t0-1+36, Second/2); got != want {
		t.Errorf("TAIFromUnix(23:59:59.5) = %d, want %d", got, want)
	}
	// No second 60 on a day without a leap, nor at another minute.
	for _, l := range []Label{
		{Time: time.Date(2016, 12, 30, 23, 59, 59, 0, time.UTC), Leap: true},
		{Time: time.Date(2016, 12, 31, 12, 0, 59, 0, time.UTC), Leap: true},
	} {
		if _, err := d.TAIFromLabel(l); err == nil || !strings.Contains(err.Error(), "inserts no second there") {
			t.Errorf("TAIFromLabel(%v) = %v, want an error", l, err)
		}
	}
}

func TestDeletedSecondLabels(t *testing.T) {
	neg := negTable()
	// 1973-01-01T00:00:00Z is POSIX 94694400; TAI-UTC goes from 11 to 10 and
	// 1972-12-31T23:59:59 never happens.
	const t0 = 94694400
	for _, c := range []struct {
		x    TAI
		want string
	}{
		{secs(t0 - 2 + 11 - 1), "1972-12-31T23:59:57Z"},
		{secs(t0 - 2 + 11), "1972-12-31T23:59:58Z"},
		{secs(t0-2+11, Second/2), "1972-12-31T23:59:58.5Z"},
		{secs(t0+10) - 1, "1972-12-31T23:59:58.999999999Z"},
		{secs(t0 + 10), "1973-01-01T00:00:00Z"},
		{secs(t0+10, Second/2), "1973-01-01T00:00:00.5Z"},
	} {
		l := neg.LabelFromTAI(c.x)
		if got := l.String(); got != c.want {
			t.Errorf("LabelFromTAI(%d) = %s, want %s", c.x, got, c.want)
		}
		if back, err := neg.TAIFromLabel(l); err != nil || back != c.x {
			t.Errorf("TAIFromLabel(%s) = %d, %v, want %d", c.want, back, err, c.x)
		}
	}
	for _, s := range []string{"1972-12-31T23:59:59Z", "1972-12-31T23:59:59.5Z", "1972-12-31T23:59:59.999999999Z"} {
		l, err := ParseLabel(s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := neg.TAIFromLabel(l); err == nil || !strings.Contains(err.Error(), "was deleted") {
			t.Errorf("TAIFromLabel(%s) = %v, want the missing-second error", s, err)
		}
	}
	if _, err := neg.TAIFromLabel(Label{Time: time.Date(1972, 12, 31, 23, 59, 59, 0, time.UTC), Leap: true}); err == nil {
		t.Error("23:59:60 accepted on the day of a deleted second")
	}
	// POSIX readings inside the deleted second map as the next second does.
	if a, b := neg.TAIFromUnix(UTC((t0-1)*Second+7)), neg.TAIFromUnix(UTC(t0*Second+7)); a != b {
		t.Errorf("TAIFromUnix in the deleted second = %d, want %d", a, b)
	}
	if got := neg.OffsetAtTAI(secs(t0 + 10)); got != 10 {
		t.Errorf("OffsetAtTAI(1973-01-01) = %d, want 10", got)
	}
	if got := neg.OffsetAtTAI(secs(t0+10) - 1); got != 11 {
		t.Errorf("OffsetAtTAI(just before) = %d, want 11", got)
	}
}

// labelLess orders clock readings: second 60 comes after the 23:59:59 whose
// Time it shares and before the next day.
func labelLess(a, b Label) bool {
	key := func(l Label) (int64, int64) {
		ns := l.Time.UnixNano()
		sec := floorDiv(ns, Second)
		k := 2 * sec
		if l.Leap {
			k++
		}
		return k, ns - sec*Second
	}
	ka, fa := key(a)
	kb, fb := key(b)
	return ka < kb || (ka == kb && fa < fb)
}

func TestLabelRoundTripProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 300 {
		tb := randomTable(r)
		// Probe around each event and at random instants.
		var xs []TAI
		for _, e := range tb.Events {
			base := int64(e.Jump())
			for _, d := range []int64{-Second - 1, -Second, -1, 0, 1, Second / 2, Second - 1, Second, Second + 1, 2 * Second} {
				xs = append(xs, TAI(base+d))
			}
		}
		for range 50 {
			xs = append(xs, TAI(r.Int64N(int64(180*365*24*time.Hour))))
		}
		for _, x := range xs {
			l := tb.LabelFromTAI(x)
			back, err := tb.TAIFromLabel(l)
			if err != nil || back != x {
				t.Fatalf("%v: TAI %d -> %s -> %d, %v", tb.Events, x, l, back, err)
			}
			// ParseLabel reads the span of leap tables, from 1972 on.
			if p, err := ParseLabel(l.String()); !l.Time.Before(firstInstant) && (err != nil || p != l) {
				t.Fatalf("label %s does not parse back: %v %v", l, p, err)
			}
			// Strictly increasing, by exactly the TAI step away from leaps.
			next := tb.LabelFromTAI(x + 1)
			if !labelLess(l, next) {
				t.Fatalf("labels not increasing at TAI %d: %s then %s", x, l, next)
			}
			if step := next.Time.Sub(l.Time); l.Leap == next.Leap && tb.OffsetAtTAI(x) == tb.OffsetAtTAI(x+1) && step != 1 {
				t.Fatalf("labels step by %v from TAI %d to %d", step, x, x+1)
			}
		}
	}
}

func TestUnixTAIRoundTripProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 300 {
		tb := randomTable(r)
		for range 100 {
			u := UTC(r.Int64N(int64(180 * 365 * 24 * time.Hour)))
			sec := floorDiv(int64(u), Second)
			deleted := false
			for _, e := range tb.Events {
				if e.Delta < 0 && sec == e.Unix()-1 {
					deleted = true
				}
			}
			if got := tb.UnixFromTAI(tb.TAIFromUnix(u)); got != u && !deleted {
				t.Fatalf("POSIX %d -> TAI -> %d", u, got)
			}
		}
	}
}

func TestParseLabel(t *testing.T) {
	for _, c := range []struct {
		in, err string
	}{
		{"2016-12-31T23:59:60Z", ""},
		{"2016-12-31T23:59:60.123456789Z", ""},
		{"2016-12-31T23:59:60+00:00", ""},
		{"2016-12-31T12:00:60Z", "only at 23:59"},
		{"2016-12-31T23:59:60+01:00", "in UTC"},
		{"2017-01-01T00:59:60+01:00", "only at 23:59"},
		{"2016-12-31 23:59:60", "RFC 3339"},
		{"yesterday", "RFC 3339"},
		{"", "RFC 3339"},
		{"9999-12-31T23:59:59Z", "outside 1972-01-01..2200-01-01"},
		{"1900-01-01T00:00:00Z", "outside 1972-01-01..2200-01-01"},
	} {
		l, err := ParseLabel(c.in)
		if c.err == "" {
			if err != nil || !l.Leap || l.Time.Second() != 59 {
				t.Errorf("ParseLabel(%q) = %v, %v", c.in, l, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "2006-01-02") {
			t.Errorf("ParseLabel(%q) = %v, want an error with %q (and not Go's layout)", c.in, err, c.err)
		}
	}
	l, err := ParseLabel("2017-01-01T01:00:00+01:00")
	if err != nil || l.Leap || !l.Time.Equal(utc(2017, 1, 1)) || l.Time.Location() != time.UTC {
		t.Errorf("ParseLabel with a zone = %v, %v", l, err)
	}
}

func TestClone(t *testing.T) {
	a := Default()
	b := a.Clone()
	b.Events[0].TAIUTC = 99
	b.Events = append(b.Events, Event{})
	if a.Events[0].TAIUTC != 11 || len(a.Events) != 27 {
		t.Fatal("Clone shares events with the original")
	}
}

// TestRehearsalLabels: an inserted second that does not end a UTC day has
// no 23:59:60; its label says which second repeats, never an impossible
// time such as 10:58:60.
func TestRehearsalLabels(t *testing.T) {
	at := time.Date(2026, 11, 23, 10, 59, 0, 0, time.UTC)
	r, err := Default().WithRehearsal(at, 1)
	if err != nil {
		t.Fatal(err)
	}
	x := r.TAIFromTime(at) - TAI(Second/2) // half-way through the inserted second
	l := r.LabelFromTAI(x)
	if got := l.String(); !l.Leap || got != "2026-11-23T10:58:59.5Z (repeated)" {
		t.Errorf("label %q (leap %v)", got, l.Leap)
	}
}
