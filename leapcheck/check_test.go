package leapcheck

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/leap"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// withLeap returns the embedded table plus one leap taking effect at
// effective, expiring at expires.
func withLeap(effective string, delta int, expires string) *leap.Table {
	t := leap.Default()
	last, _ := t.Last()
	t.Events = append(t.Events, leap.Event{Effective: utc(effective), TAIUTC: last.TAIUTC + delta, Delta: delta})
	t.Expires = utc(expires)
	t.Source = "test table"
	if err := t.Validate(); err != nil {
		panic(err)
	}
	return t
}

func ntpLI(name string, at time.Time, sign int) Observation {
	o := Observation{Name: "ntp " + name, Kind: KindNTP}
	if sign != 0 {
		a := EndOfMonth(at, sign)
		o.Announces = &a
	}
	return o
}

func kernel(at time.Time, sign int) Observation {
	o := Observation{Name: "kernel", Kind: KindKernel, Group: HostGroup}
	if sign != 0 {
		a := EndOfDay(at, sign)
		o.Announces = &a
	}
	return o
}

func chrony(at time.Time, sign int) Observation {
	o := Observation{Name: "chrony /run/chrony/chronyd.sock", Kind: KindChrony, Group: HostGroup}
	if sign != 0 {
		a := EndOfDay(at, sign)
		o.Announces = &a
	}
	return o
}

func unreachable(name string) Observation {
	return Observation{Name: "ntp " + name, Kind: KindNTP, Err: errors.New("no answer within 5s")}
}

// TestCheck covers every verdict and the edges: month ends, both signs, the
// last day, an expired table, a table that does not reach the date.
func TestCheck(t *testing.T) {
	embedded := leap.Default() // expires 2027-06-28, last leap 2016-12-31
	june := withLeap("2027-07-01T00:00:00Z", 1, "2027-12-28T00:00:00Z")
	juneNeg := withLeap("2027-07-01T00:00:00Z", -1, "2027-12-28T00:00:00Z")
	noExpiry := leap.Default()
	noExpiry.Expires = time.Time{}
	// A table whose expiry is exactly the instant the announced leap takes
	// effect: it vouches for that leap second.
	exact := leap.Default()
	exact.Expires = utc("2027-01-01T00:00:00Z")

	type want struct {
		verdict  Verdict
		leap     string // Announcement.String(), "" for none
		faulty   []string
		quorum   int // of the finding that gave the verdict
		problems []string
		quiet    bool // no problems at all
		lastDay  bool
	}
	for _, c := range []struct {
		name    string
		table   *leap.Table
		at      string
		sources func(at time.Time) []Observation
		months  Months
		want    want
	}{
		{"nothing announced", embedded, "2026-11-30T12:00:00Z",
			func(at time.Time) []Observation { return []Observation{kernel(at, 0), ntpLI("a", at, 0)} }, 0,
			want{verdict: None, quiet: true}},
		{"nothing and no sources", embedded, "2026-11-30T12:00:00Z",
			func(time.Time) []Observation { return nil }, 0, want{verdict: None, quiet: true}},
		{"agree, upstream announces weeks ahead", june, "2027-06-02T00:00:00Z",
			func(at time.Time) []Observation { return []Observation{kernel(at, 0), ntpLI("a", at, 1)} }, 0,
			want{verdict: Agree, leap: "2027-06-30 +1", quorum: 1, quiet: true}},
		{"agree on the last day, kernel armed", june, "2027-06-30T12:00:00Z",
			func(at time.Time) []Observation {
				return []Observation{kernel(at, 1), chrony(at, 1), ntpLI("a", at, 1), ntpLI("b", at, 1)}
			}, 0,
			want{verdict: Agree, leap: "2027-06-30 +1", quorum: 3, lastDay: true, quiet: true}},
		{"agree, negative leap", juneNeg, "2027-06-30T23:59:59.999Z",
			func(at time.Time) []Observation { return []Observation{kernel(at, -1), ntpLI("a", at, -1)} }, 0,
			want{verdict: Agree, leap: "2027-06-30 -1", quorum: 2, lastDay: true, quiet: true}},
		{"table-only before the last day", june, "2027-06-15T00:00:00Z",
			func(at time.Time) []Observation { return []Observation{kernel(at, 0), ntpLI("a", at, 0)} }, 0,
			want{verdict: TableOnly, leap: "2027-06-30 +1", quiet: true}},
		{"table-only months ahead", june, "2027-01-15T00:00:00Z",
			func(at time.Time) []Observation { return []Observation{kernel(at, 0)} }, 0,
			want{verdict: TableOnly, leap: "2027-06-30 +1", quiet: true}},
		{"table-only on the last day: kernel not armed, upstream silent", june, "2027-06-30T00:00:00Z",
			func(at time.Time) []Observation { return []Observation{kernel(at, 0), ntpLI("a", at, 0)} }, 0,
			want{verdict: TableOnly, leap: "2027-06-30 +1", lastDay: true, problems: []string{
				"the host kernel is not armed for an inserted leap second (+1) at the end of 2027-06-30, which is tonight: the host's time daemon will step the host clock after it",
				"leapsmear's served time is unaffected",
				"ntp a does not announce an inserted leap second (+1) at the end of 2027-06-30, which is tonight"}}},
		{"agree, but chronyd silent on the last day", june, "2027-06-30T06:00:00Z",
			func(at time.Time) []Observation {
				return []Observation{kernel(at, 1), chrony(at, 0), ntpLI("a", at, 1)}
			}, 0,
			want{verdict: Agree, leap: "2027-06-30 +1", quorum: 2, lastDay: true, problems: []string{
				"chrony /run/chrony/chronyd.sock does not announce an inserted leap second (+1) at the end of 2027-06-30, which is tonight"}}},
		{"the leap has passed", june, "2027-07-01T00:00:00Z",
			func(at time.Time) []Observation { return []Observation{kernel(at, 0), ntpLI("a", at, 0)} }, 0,
			want{verdict: None, quiet: true}},
		{"unknown leap: expired table, two upstreams", embedded, "2027-12-31T12:00:00Z",
			func(at time.Time) []Observation {
				return []Observation{kernel(at, 0), ntpLI("a", at, 1), ntpLI("b", at, 1)}
			}, 0,
			want{verdict: UnknownLeap, leap: "2027-12-31 +1", quorum: 2, lastDay: true, problems: []string{
				"unknown leap: ntp a, ntp b announce an inserted leap second (+1) at the end of 2027-12-31, which leap table embedded leap-seconds.list does not have; leap table embedded leap-seconds.list expired on 2027-06-28T00:00:00Z",
				"refresh it: curl -fsSLo /etc/leapsmear/leap-seconds.list.new " + IERSList}}},
		{"unknown leap: negative, the kernel and chronyd count once", embedded, "2027-12-31T12:00:00Z",
			func(at time.Time) []Observation {
				return []Observation{kernel(at, -1), chrony(at, -1), ntpLI("a", at, -1)}
			}, 0,
			want{verdict: UnknownLeap, leap: "2027-12-31 -1", quorum: 2, lastDay: true}},
		{"unknown leap: the table does not reach the date", embedded, "2027-06-20T00:00:00Z",
			func(at time.Time) []Observation { return []Observation{ntpLI("a", at, 1)} }, 0,
			want{verdict: UnknownLeap, leap: "2027-06-30 +1", quorum: 1, problems: []string{
				"leap table embedded leap-seconds.list does not reach that date (it expires 2027-06-28T00:00:00Z)"}}},
		{"unknown leap: a table without expiry vouches for nothing ahead", noExpiry, "2026-12-31T00:00:00Z",
			func(at time.Time) []Observation { return []Observation{kernel(at, 1)} }, 0,
			want{verdict: UnknownLeap, leap: "2026-12-31 +1", quorum: 1, lastDay: true, problems: []string{"states no expiry"}}},
		{"unknown leap: sources disagree on the sign", embedded, "2027-12-31T12:00:00Z",
			func(at time.Time) []Observation {
				return []Observation{ntpLI("a", at, 1), ntpLI("b", at, 1), ntpLI("c", at, -1)}
			}, 0,
			want{verdict: UnknownLeap, leap: "2027-12-31 +1", quorum: 0, lastDay: true, problems: []string{
				"sources disagree on the sign of the leap second at the end of 2027-12-31: ntp c announces -1"}}},
		{"faulty: the unexpired table rules the date out", embedded, "2026-12-31T12:00:00Z",
			func(at time.Time) []Observation {
				return []Observation{kernel(at, 0), ntpLI("a", at, 0), ntpLI("b", at, 1)}
			}, 0,
			want{verdict: FaultySource, leap: "2026-12-31 +1", faulty: []string{"ntp b"}, lastDay: true, problems: []string{
				"faulty source ntp b announces an inserted leap second (+1) at the end of 2026-12-31, but leap table embedded leap-seconds.list, valid until 2027-06-28T00:00:00Z, has no leap second then: not followed"}}},
		{"faulty whatever the quorum", embedded, "2026-12-20T00:00:00Z",
			func(at time.Time) []Observation {
				return []Observation{ntpLI("a", at, 1), ntpLI("b", at, 1), ntpLI("c", at, 1)}
			}, 0,
			want{verdict: FaultySource, leap: "2026-12-31 +1", faulty: []string{"ntp a", "ntp b", "ntp c"}}},
		{"faulty: expiry exactly at the leap covers it", exact, "2026-12-31T12:00:00Z",
			func(at time.Time) []Observation { return []Observation{ntpLI("a", at, 1)} }, 0,
			want{verdict: FaultySource, leap: "2026-12-31 +1", faulty: []string{"ntp a"}, lastDay: true}},
		{"faulty: November is not a leap month by default", embedded, "2027-11-30T12:00:00Z",
			func(at time.Time) []Observation { return []Observation{ntpLI("a", at, 1)} }, 0,
			want{verdict: FaultySource, leap: "2027-11-30 +1", faulty: []string{"ntp a"}, lastDay: true, problems: []string{
				"but leap seconds are expected only at the end of June, December (--leap-months): not followed"}}},
		{"November allowed: unknown leap", embedded, "2027-11-30T12:00:00Z",
			func(at time.Time) []Observation { return []Observation{ntpLI("a", at, 1)} }, AnyMonth,
			want{verdict: UnknownLeap, leap: "2027-11-30 +1", quorum: 1, lastDay: true}},
		{"faulty: a kernel armed in the middle of a month", embedded, "2027-12-15T12:00:00Z",
			func(at time.Time) []Observation { return []Observation{kernel(at, 1), ntpLI("a", at, 0)} }, AnyMonth,
			want{verdict: FaultySource, leap: "2027-12-15 +1", faulty: []string{"kernel"}, lastDay: true, problems: []string{
				"2027-12-15 is not the last day of a month"}}},
		{"faulty: the other sign than the table", june, "2027-06-30T12:00:00Z",
			func(at time.Time) []Observation { return []Observation{kernel(at, 1), ntpLI("a", at, -1)} }, 0,
			want{verdict: FaultySource, leap: "2027-06-30 +1", faulty: []string{"ntp a"}, quorum: 1, lastDay: true, problems: []string{
				"faulty source ntp a announces a deleted leap second (-1) at the end of 2027-06-30, but leap table test table has an inserted leap second (+1) at the end of 2027-06-30"}}},
		{"an unreachable source is an error, not a disagreement", june, "2027-06-30T12:00:00Z",
			func(at time.Time) []Observation { return []Observation{unreachable("a"), ntpLI("b", at, 1)} }, 0,
			want{verdict: Agree, leap: "2027-06-30 +1", quorum: 1, lastDay: true, problems: []string{
				"ntp a could not be read: no answer within 5s"}}},
		{"a table that reaches beyond the date rules it out", withLeap("2028-07-01T00:00:00Z", 1, "2028-12-28T00:00:00Z"), "2027-12-31T12:00:00Z",
			func(at time.Time) []Observation { return []Observation{ntpLI("a", at, 1)} }, 0,
			want{verdict: FaultySource, leap: "2027-12-31 +1", faulty: []string{"ntp a"}, lastDay: true}},
		{"expired table, nothing announced", embedded, "2027-08-01T00:00:00Z",
			func(at time.Time) []Observation { return []Observation{kernel(at, 0)} }, 0,
			want{verdict: None, problems: []string{"leap table embedded leap-seconds.list expired on 2027-06-28T00:00:00Z", "refresh it: curl"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			at := utc(c.at)
			r := Check(c.table, at, c.sources(at), Options{Months: c.months})
			if r.Verdict != c.want.verdict {
				t.Fatalf("verdict %s, want %s; result %+v", r.Verdict, c.want.verdict, r)
			}
			got := ""
			if r.Leap != nil {
				got = r.Leap.String()
			}
			if got != c.want.leap {
				t.Errorf("leap %q, want %q", got, c.want.leap)
			}
			if !slices.Equal(r.Faulty(), c.want.faulty) {
				t.Errorf("faulty %q, want %q", r.Faulty(), c.want.faulty)
			}
			all := strings.Join(r.Problems, "\n")
			for _, p := range c.want.problems {
				if !strings.Contains(all, p) {
					t.Errorf("problems lack %q:\n%s", p, all)
				}
			}
			if c.want.quiet && len(r.Problems) > 0 {
				t.Errorf("unexpected problems:\n%s", all)
			}
			if r.Verdict == None {
				return
			}
			i := slices.IndexFunc(r.Findings, func(f Finding) bool { return f.Verdict == r.Verdict })
			f := r.Findings[i]
			if f.Quorum != c.want.quorum || f.LastDay != c.want.lastDay {
				t.Errorf("finding %+v: want quorum %d, last day %v", f, c.want.quorum, c.want.lastDay)
			}
			if f.InTable != (f.Verdict == Agree || f.Verdict == TableOnly || (f.Verdict == FaultySource && f.Quorum > 0)) {
				t.Errorf("finding %+v: in table %v", f, f.InTable)
			}
		})
	}
}

// TestCheckSources: the table comes first in Sources, observations of kind
// table are ignored, and the result describes the table.
func TestCheckSources(t *testing.T) {
	at := utc("2027-06-30T12:00:00Z")
	table := withLeap("2027-07-01T00:00:00Z", 1, "2027-12-28T00:00:00Z")
	r := Check(table, at, []Observation{{Name: "another table", Kind: KindTable}, kernel(at, 1)}, Options{})
	if len(r.Sources) != 2 || r.Sources[0].Kind != KindTable || r.Sources[0].Name != "test table" || r.Sources[1].Name != "kernel" {
		t.Fatalf("sources %+v", r.Sources)
	}
	if a := r.Sources[0].Announces; a == nil || a.String() != "2027-06-30 +1" || !a.Effective().Equal(utc("2027-07-01T00:00:00Z")) {
		t.Errorf("table announces %+v", a)
	}
	if r.TableSource != "test table" || r.TableExpired || !r.TableExpires.Equal(table.Expires) || !r.At.Equal(at) {
		t.Errorf("result %+v", r)
	}
}

func TestAdoptable(t *testing.T) {
	at := utc("2027-12-31T12:00:00Z")
	two := Check(leap.Default(), at, []Observation{ntpLI("a", at, 1), ntpLI("b", at, 1), kernel(at, 1), chrony(at, 1)}, Options{})
	for _, c := range []struct {
		quorum int
		want   int
	}{{0, 0}, {1, 1}, {2, 1}, {3, 1}, {4, 0}} {
		if got := two.Adoptable(c.quorum); len(got) != c.want || (c.want == 1 && got[0].String() != "2027-12-31 +1") {
			t.Errorf("quorum %d: adoptable %v, want %d", c.quorum, got, c.want)
		}
	}
	// Faulty announcements are never adoptable, whatever their number.
	early := utc("2026-12-31T12:00:00Z")
	faulty := Check(leap.Default(), early, []Observation{ntpLI("a", early, 1), ntpLI("b", early, 1), ntpLI("c", early, 1)}, Options{})
	if got := faulty.Adoptable(1); len(got) != 0 {
		t.Errorf("faulty announcements adoptable: %v", got)
	}
}

func TestInterpretation(t *testing.T) {
	for _, c := range []struct {
		at         string
		month, day string
	}{
		{"2027-06-01T00:00:00Z", "2027-06-30", "2027-06-01"},
		{"2027-06-30T23:59:59.999999999Z", "2027-06-30", "2027-06-30"},
		{"2027-12-31T23:59:59Z", "2027-12-31", "2027-12-31"},
		{"2028-02-10T00:00:00Z", "2028-02-29", "2028-02-10"}, // leap year
		{"2027-02-10T00:00:00Z", "2027-02-28", "2027-02-10"},
		{"2027-01-01T05:00:00+06:00", "2026-12-31", "2026-12-31"}, // judged in UTC
	} {
		at := utc(c.at)
		if got := EndOfMonth(at, 1).Date(); got != c.month {
			t.Errorf("EndOfMonth(%s) = %s, want %s", c.at, got, c.month)
		}
		if got := EndOfDay(at, -1); got.Date() != c.day || got.Sign != -1 {
			t.Errorf("EndOfDay(%s) = %s, want %s -1", c.at, got, c.day)
		}
	}
	// Every event of the embedded table is the end of a June or December.
	for _, e := range leap.Default().Events {
		a := EventAnnouncement(e)
		if !a.Effective().Equal(e.Effective) || possible(a, JuneDecember) != "" {
			t.Errorf("event %s: announcement %s effective %s, %q", e, a, a.Effective(), possible(a, JuneDecember))
		}
	}
	// A rehearsal event at 15:00 is on the day of its last second.
	r, err := leap.Default().WithRehearsal(utc("2026-11-23T15:00:00Z"), 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range r.Events {
		if e.Synthetic {
			if got := EventAnnouncement(e).Date(); got != "2026-11-23" {
				t.Errorf("rehearsal event day %s", got)
			}
		}
	}
}

func TestParseMonths(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Months
		str  string
	}{
		{"any", AnyMonth, "any month"},
		{"ANY", AnyMonth, "any month"},
		{"june,december", JuneDecember, "June, December"},
		{"Jun, Dec", JuneDecember, "June, December"},
		{"3,6,9,12", 1<<3 | 1<<6 | 1<<9 | 1<<12, "March, June, September, December"},
		{"1,2,3,4,5,6,7,8,9,10,11,12", AnyMonth, "any month"},
	} {
		got, err := ParseMonths(c.in)
		if err != nil || got != c.want || got.String() != c.str {
			t.Errorf("ParseMonths(%q) = %v (%s), %v; want %v (%s)", c.in, got, got, err, c.want, c.str)
		}
	}
	for _, bad := range []string{"", "13", "0", "ju", "june,,december", "decembre", "-1"} {
		if _, err := ParseMonths(bad); err == nil || !strings.Contains(err.Error(), "leap months") {
			t.Errorf("ParseMonths(%q): %v, want an error", bad, err)
		}
	}
}

func TestVerdictNames(t *testing.T) {
	var names []string
	for _, v := range Verdicts() {
		b, _ := v.MarshalText()
		names = append(names, string(b))
	}
	if got := strings.Join(names, " "); got != "none agree table-only faulty-source unknown-leap" {
		t.Errorf("verdicts %s", got)
	}
	if Verdict(9).String() != "Verdict(9)" || !UnknownLeap.Failed() || !FaultySource.Failed() || TableOnly.Failed() {
		t.Error("verdict helpers")
	}
}

// TestCheckProperties drives Check with random tables, instants and
// observations and checks what must always hold.
func TestCheckProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 2026))
	base := utc("2026-01-01T00:00:00Z")
	for i := 0; i < 5000; i++ {
		table := leap.Default()
		if rng.IntN(2) == 0 {
			// A future leap at a random month end in 2027-2028.
			y, m := 2027+rng.IntN(2), time.Month(1+rng.IntN(12))
			eff := time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC)
			d := 1 - 2*rng.IntN(2)
			last, _ := table.Last()
			table.Events = append(table.Events, leap.Event{Effective: eff, TAIUTC: last.TAIUTC + d, Delta: d})
			table.Expires = eff.AddDate(0, rng.IntN(12), 1)
		}
		switch rng.IntN(4) {
		case 0:
			table.Expires = time.Time{}
		case 1:
			if last, _ := table.Last(); last.Effective.Before(utc("2026-06-01T00:00:00Z")) {
				table.Expires = base.AddDate(0, rng.IntN(30), rng.IntN(28))
			}
		}
		at := base.Add(time.Duration(rng.Int64N(int64(3 * 365 * 24 * time.Hour))))
		var obs []Observation
		for j := range rng.IntN(5) {
			sign := []int{0, 1, -1}[rng.IntN(3)]
			var o Observation
			switch rng.IntN(4) {
			case 0:
				o = kernel(at, sign)
			case 1:
				o = chrony(at, sign)
			case 2:
				o = unreachable(string(rune('a' + j)))
			default:
				o = ntpLI(string(rune('a'+j)), at, sign)
			}
			obs = append(obs, o)
		}
		r := Check(table, at, obs, Options{Months: Months(rng.IntN(int(AnyMonth) + 1))})
		worst := None
		for _, f := range r.Findings {
			worst = max(worst, f.Verdict)
			switch f.Verdict {
			case Agree:
				if !f.InTable || len(f.Announcing) == 0 || len(f.Faulty) > 0 {
					t.Fatalf("agree %+v", f)
				}
			case TableOnly:
				if !f.InTable || len(f.Announcing) > 0 || len(f.Faulty) > 0 {
					t.Fatalf("table-only %+v", f)
				}
			case UnknownLeap:
				if f.InTable || len(f.Faulty) > 0 || len(f.Announcing) == 0 || f.Leap.Effective().Day() != 1 || !r.TableExpired && !f.Leap.Effective().After(table.Expires) {
					t.Fatalf("unknown %+v (table expires %s, at %s)", f, table.Expires, at)
				}
			case FaultySource:
				if len(f.Faulty) == 0 {
					t.Fatalf("faulty without a faulty source %+v", f)
				}
			}
		}
		if r.Verdict != worst {
			t.Fatalf("verdict %s, worst finding %s", r.Verdict, worst)
		}
		problems := strings.Join(r.Problems, "\n")
		for _, n := range r.Faulty() {
			if !strings.Contains(problems, "faulty source "+n+" ") {
				t.Fatalf("faulty %s not in problems:\n%s", n, problems)
			}
		}
		for _, o := range r.Unreadable() {
			if !strings.Contains(problems, o.Name+" could not be read") {
				t.Fatalf("unreadable %s not in problems", o.Name)
			}
		}
		// A source that announces exactly the table's next leap is never faulty.
		if next := r.Sources[0].Announces; next != nil {
			for _, o := range obs {
				if o.Err == nil && o.Announces != nil && *o.Announces == *next && slices.Contains(r.Faulty(), o.Name) {
					t.Fatalf("%s announces the table's leap %s but is faulty", o.Name, next)
				}
			}
		}
	}
}

// withOffset is o stating TAI-UTC off about the instant when.
func withOffset(o Observation, off int, when time.Time) Observation {
	o.TAIMinusUTC, o.OffsetAt = &off, when
	return o
}

// TestOffsetFaulty: a source whose TAI-UTC contradicts an unexpired table is
// faulty (named, counted among Faulty, the verdict at least faulty-source),
// whatever it announces; the offset of either side of a leap is excused
// within OffsetSlack of it; an expired table or an unread source judges
// nothing; the instant is the statement's own, not the replayed one.
func TestOffsetFaulty(t *testing.T) {
	tbl := withLeap("2027-07-01T00:00:00Z", 1, "2028-06-28T00:00:00Z") // 37 s, then 38 s
	before, after := utc("2027-06-30T23:59:59.5Z"), utc("2027-07-01T00:00:30Z")
	ptp := Observation{Name: "ptp /var/run/ptp4l", Kind: KindPTP, Group: HostGroup}
	for _, c := range []struct {
		name    string
		at      time.Time
		o       Observation
		faulty  bool
		verdict Verdict
	}{
		{"right", utc("2027-03-01T00:00:00Z"), withOffset(ptp, 37, time.Time{}), false, TableOnly},
		{"GPS-UTC instead of TAI-UTC", utc("2027-03-01T00:00:00Z"), withOffset(ptp, 18, time.Time{}), true, FaultySource},
		{"one ahead", utc("2027-03-01T00:00:00Z"), withOffset(ptp, 38, time.Time{}), true, FaultySource},
		{"new offset just before the leap", before, withOffset(ptp, 38, time.Time{}), false, TableOnly},
		{"old offset just after the leap", after, withOffset(ptp, 37, time.Time{}), false, None},
		{"old offset an hour after the leap", utc("2027-07-01T01:00:00Z"), withOffset(ptp, 37, time.Time{}), true, FaultySource},
		{"no statement", utc("2027-03-01T00:00:00Z"), ptp, false, TableOnly},
		{"unreadable", utc("2027-03-01T00:00:00Z"), func() Observation {
			o := withOffset(ptp, 18, time.Time{})
			o.Err = errors.New("no answer")
			return o
		}(), false, TableOnly},
		{"expired table", utc("2028-07-01T00:00:00Z"), withOffset(ptp, 99, time.Time{}), false, None},
		// A replay judges 2016, but the statement is about the host's now.
		{"replayed instant, statement about now", utc("2016-12-31T18:00:00Z"), withOffset(ptp, 37, utc("2027-03-01T00:00:00Z")), false, TableOnly},
		{"replayed instant, wrong statement about now", utc("2016-12-31T18:00:00Z"), withOffset(ptp, 36, utc("2027-03-01T00:00:00Z")), true, FaultySource},
	} {
		r := Check(tbl, c.at, []Observation{c.o}, Options{})
		gotFaulty := slices.Contains(r.Faulty(), ptp.Name)
		if gotFaulty != c.faulty || r.Verdict != c.verdict {
			t.Errorf("%s: faulty %v verdict %v, want %v %v; problems %q", c.name, gotFaulty, r.Verdict, c.faulty, c.verdict, r.Problems)
		}
		if c.faulty && !slices.ContainsFunc(r.Problems, func(p string) bool {
			return strings.Contains(p, "faulty source "+ptp.Name+" states TAI-UTC = ") && strings.Contains(p, "not followed")
		}) {
			t.Errorf("%s: no problem names the source: %q", c.name, r.Problems)
		}
	}
	// A source with a wrong offset counts towards no quorum: of two
	// sources announcing a leap the table does not reach, one is left.
	stale := withLeap("2027-01-01T00:00:00Z", 1, "2027-06-28T00:00:00Z")
	at := utc("2027-06-30T08:00:00Z")
	gm := ptp
	gm.Announces = &Announcement{Day: utc("2027-06-30T00:00:00Z"), Sign: 1}
	r := Check(stale, at, []Observation{withOffset(gm, 18, utc("2027-06-01T00:00:00Z")), ntpLI("127.0.0.1:123", at, 1)}, Options{})
	if r.Verdict != UnknownLeap || len(r.Findings) != 1 || r.Findings[0].Quorum != 1 || !slices.Equal(r.Faulty(), []string{ptp.Name}) ||
		len(r.Adoptable(2)) != 0 || len(r.Adoptable(1)) != 1 {
		t.Errorf("unknown leap with a wrong-offset source: %+v", r)
	}
	// A wrong offset is not outweighed by a right announcement: the
	// source agrees on the leap and is still faulty.
	o := withOffset(kernel(at, 1), 36, time.Time{})
	r = Check(tbl, at, []Observation{o}, Options{})
	if r.Verdict != FaultySource || !slices.Equal(r.Faulty(), []string{"kernel"}) || len(r.Findings) != 1 || r.Findings[0].Verdict != Agree {
		t.Errorf("agreeing kernel with a wrong offset: %+v", r)
	}
}

func TestAnnouncementReportString(t *testing.T) {
	a := EndOfMonth(utc("2027-12-10T08:00:00Z"), 1)
	if got := announcementReport(&a).String(); got != "2027-12-31 +1 2028-01-01T00:00:00Z" {
		t.Errorf("%q", got)
	}
	var none *AnnouncementReport
	if got := none.String(); got != "" {
		t.Errorf("nil: %q", got)
	}
}
