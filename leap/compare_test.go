package leap

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestCompareIdentical(t *testing.T) {
	if d := Compare(Default(), Default()); len(d) != 0 {
		t.Fatalf("%v", d)
	}
}

func TestCompareKinds(t *testing.T) {
	jul72, jan73, jan74 := utc(1972, 7, 1), utc(1973, 1, 1), utc(1974, 1, 1)
	a := table("A", utc(1974, 6, 28), jul72, 1, jan73, 1, jan74, -1)
	cases := []struct {
		name string
		b    *Table
		want []Difference
	}{
		{"expiry only", table("B", utc(1975, 6, 28), jul72, 1, jan73, 1, jan74, -1),
			[]Difference{{Kind: DifferentExpiry, ExpiresA: utc(1974, 6, 28), ExpiresB: utc(1975, 6, 28)}}},
		{"B lacks an event it covers", table("B", utc(1974, 6, 28), jul72, 1, jan73, 1),
			[]Difference{{Kind: MissingEvent, Event: a.Events[2], InA: true, Conflict: true}}},
		{"B has a later event beyond A's expiry", table("B", utc(1976, 6, 28), jul72, 1, jan73, 1, jan74, -1, utc(1975, 1, 1), 1),
			[]Difference{
				{Kind: MissingEvent, Event: Event{Effective: utc(1975, 1, 1), TAIUTC: 12, Delta: 1}},
				{Kind: DifferentExpiry, ExpiresA: utc(1974, 6, 28), ExpiresB: utc(1976, 6, 28)}}},
		{"different sign", table("B", utc(1974, 6, 28), jul72, 1, jan73, 1, jan74, 1),
			[]Difference{{Kind: DifferentOffset, Event: a.Events[2], Other: Event{Effective: jan74, TAIUTC: 13, Delta: 1}, Conflict: true}}},
		{"B without expiry covers up to its last event", table("B", time.Time{}, jul72, 1),
			[]Difference{
				{Kind: MissingEvent, Event: a.Events[1], InA: true},
				{Kind: MissingEvent, Event: a.Events[2], InA: true},
				{Kind: DifferentExpiry, ExpiresA: utc(1974, 6, 28)}}},
	}
	for _, c := range cases {
		got := Compare(a, c.b)
		if len(got) != len(c.want) {
			t.Errorf("%s: %v", c.name, got)
			continue
		}
		for i, w := range c.want {
			w.A, w.B = "A", "B"
			g := got[i]
			if g.Kind != w.Kind || !g.Event.equal(w.Event) || !g.Other.equal(w.Other) || g.InA != w.InA || g.Conflict != w.Conflict ||
				!g.ExpiresA.Equal(w.ExpiresA) || !g.ExpiresB.Equal(w.ExpiresB) || g.A != "A" || g.B != "B" {
				t.Errorf("%s: difference %d is %+v, want %+v", c.name, i, g, w)
			}
		}
	}
	b := a.Clone()
	b.Source, b.Base = "B", 11
	if got := Compare(a, b); len(got) != 1 || got[0].Kind != DifferentBase || !got[0].Conflict {
		t.Errorf("base: %v", got)
	}
}

func TestDifferenceString(t *testing.T) {
	e := Event{Effective: utc(2017, 1, 1), TAIUTC: 37, Delta: 1}
	for _, c := range []struct {
		d    Difference
		want string
	}{
		{Difference{Kind: MissingEvent, A: "a", B: "b", Event: e, InA: true}, "leap 2016-12-31 23:59:60 +1 (TAI-UTC 37) is in a but not in b"},
		{Difference{Kind: MissingEvent, A: "a", B: "b", Event: e}, "leap 2016-12-31 23:59:60 +1 (TAI-UTC 37) is in b but not in a"},
		{Difference{Kind: DifferentOffset, A: "a", B: "b", Event: e, Other: Event{Effective: utc(2017, 1, 1), TAIUTC: 35, Delta: -1}},
			"at 2017-01-01T00:00:00Z a has TAI-UTC 37 (+1) but b has 35 (-1)"},
		{Difference{Kind: DifferentExpiry, A: "a", B: "b", ExpiresA: utc(2026, 6, 28)}, "a expires 2026-06-28T00:00:00Z but b states no expiry"},
		{Difference{Kind: DifferentBase, A: "a", B: "b", BaseA: 10, BaseB: 11}, "a starts from TAI-UTC 10 in 1972 but b from 11"},
	} {
		if got := c.d.String(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}

func loadTestdata(t *testing.T, file string) *Table {
	t.Helper()
	tb, err := Parse(readTestdata(t, file), file, ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func TestCorroborate(t *testing.T) {
	ref := Default()
	for _, file := range []string{"leapseconds", "leapseconds-2026f", "right_UTC"} {
		tb := loadTestdata(t, file)
		if !Corroborate(tb, ref) || !tb.Verified || tb.Verification != "corroborated by embedded leap-seconds.list" {
			t.Errorf("%s: %v %q", file, tb.Verified, tb.Verification)
		}
	}
	// A changed event.
	changed := bytes.Replace(readTestdata(t, "leapseconds"), []byte("Leap	2016	Dec	31"), []byte("Leap	2016	Jun	30"), 1)
	tb, err := Parse(changed, "changed", ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if Corroborate(tb, ref) || tb.Verified ||
		tb.Verification != "not corroborated by embedded leap-seconds.list: leap 2016-06-30 23:59:60 +1 (TAI-UTC 37) is in changed but not in embedded leap-seconds.list" {
		t.Errorf("changed: %v %q", tb.Verified, tb.Verification)
	}
	// An unverified reference vouches for nothing.
	unverified := ref.Clone()
	unverified.Verified = false
	tb = loadTestdata(t, "leapseconds")
	if Corroborate(tb, unverified) || !strings.Contains(tb.Verification, "the reference is not verified") {
		t.Errorf("unverified reference: %q", tb.Verification)
	}
	// An event the reference does not have (a leap announced after it).
	newer := loadTestdata(t, "leapseconds")
	newer.Events = append(newer.Events, Event{Effective: utc(2027, 1, 1), TAIUTC: 38, Delta: 1})
	newer.Expires = utc(2027, 12, 28)
	if Corroborate(newer, ref) {
		t.Error("an event missing from the reference was corroborated")
	}
	// An old table without expiry that ends before the reference's newer
	// events: all it says is true.
	old := loadTestdata(t, "right_UTC")
	old.Events = old.Events[:20]
	if !Corroborate(old, ref) {
		t.Errorf("old table: %q", old.Verification)
	}
	// An old table with an expiry it should have covered the 2017 leap by.
	old.Expires = utc(2017, 6, 28)
	if Corroborate(old, ref) || !strings.Contains(old.Verification, "is in embedded leap-seconds.list but not in right_UTC") {
		t.Errorf("old table with expiry: %q", old.Verification)
	}
	// Negative leaps: a table corroborates itself when verified.
	neg, negRef := negTable(), negTable()
	negRef.Verified = true
	if !Corroborate(neg, negRef) {
		t.Errorf("negative: %q", neg.Verification)
	}
}

func TestSelect(t *testing.T) {
	now := utc(2026, 1, 1)
	old := loadTestdata(t, "leap-seconds.list")       // expires 2026-06-28
	mid := loadTestdata(t, "leap-seconds-2026b.list") // expires 2026-12-28
	tz := loadTestdata(t, "leapseconds-2026f")        // expires 2027-06-28, unverified
	tzif := loadTestdata(t, "right_UTC")              // no expiry
	emb := Default()                                  // expires 2027-06-28, verified
	pick := func(at time.Time, tables ...*Table) *Table {
		t.Helper()
		got, _, err := Select(tables, at)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := pick(now, old, mid, tzif); got != mid {
		t.Errorf("picked %s, want the latest-expiring", got.Source)
	}
	if got := pick(now, old, tz, mid); got != mid {
		t.Errorf("picked %s, want the verified one over a later unverified one", got.Source)
	}
	if got := pick(now, tz, emb); got != emb {
		t.Errorf("picked %s, want the verified one on a tie", got.Source)
	}
	if got := pick(utc(2026, 9, 1), old, tz); got != tz {
		t.Errorf("picked %s, want the only unexpired one", got.Source)
	}
	if got := pick(utc(2030, 1, 1), tzif, old, mid); got != mid {
		t.Errorf("all expired: picked %s, want the latest-expiring", got.Source)
	}
	if got := pick(utc(2030, 1, 1), tzif); got != tzif {
		t.Errorf("one table: picked %s", got.Source)
	}
	_, diffs, err := Select([]*Table{old, mid, tzif}, now)
	if err != nil || len(diffs) != 3 || len(Conflicts(diffs)) != 0 {
		t.Errorf("differences %v, %v", diffs, err)
	}
	if _, _, err := Select(nil, now); err == nil {
		t.Error("Select of nothing")
	}
}

func TestSelectDisagreement(t *testing.T) {
	now := utc(2026, 1, 1)
	good := loadTestdata(t, "leap-seconds-2026b.list")
	bad := loadTestdata(t, "leapseconds-2026f")
	bad.Source = "bad"
	bad.Events = bad.Events[:len(bad.Events)-1]
	bad.Events = append(bad.Events, Event{Effective: utc(2016, 7, 1), TAIUTC: 37, Delta: 1})
	got, diffs, err := Select([]*Table{good, bad}, now)
	want := "leap tables leap-seconds-2026b.list and bad disagree: leap 2016-06-30 23:59:60 +1 (TAI-UTC 37) is in bad but not in leap-seconds-2026b.list"
	if got != nil || err == nil || err.Error() != want {
		t.Fatalf("got %v, %v", got, err)
	}
	if len(Conflicts(diffs)) != 2 {
		t.Errorf("conflicts %v", Conflicts(diffs))
	}
	// Expired tables must agree as well where they vouch for the events.
	if got, _, err := Select([]*Table{good, bad}, utc(2027, 7, 1)); got != nil || err == nil || err.Error() != want {
		t.Errorf("expired: %v %v", got, err)
	}
	// Tables that differ only beyond one's coverage agree.
	short := good.Clone()
	short.Source, short.Events, short.Expires = "short", short.Events[:20], time.Time{}
	if got, diffs, err := Select([]*Table{short, good}, now); err != nil || got != good || len(Conflicts(diffs)) != 0 {
		t.Errorf("short: %v %v %v", got, diffs, err)
	}
	// Negative leaps disagreeing on the sign.
	a, b := negTable(), negTable()
	b.Source = "other"
	b.Events[3].Delta, b.Events[3].TAIUTC = 1, 12
	if _, _, err := Select([]*Table{a, b}, utc(1974, 2, 1)); err == nil ||
		!strings.Contains(err.Error(), "at 1974-01-01T00:00:00Z synthetic-negative has TAI-UTC 10 (-1) but other has 12 (+1)") {
		t.Errorf("negative: %v", err)
	}
}
