package leapcheck

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/leapsmear/leapsmear/leap"
)

// Kind says what sort of source an observation comes from.
type Kind string

// The kinds of source.
const (
	KindTable  Kind = "table"  // the leap table (files or the embedded one)
	KindKernel Kind = "kernel" // the host kernel's armed leap (adjtimex)
	KindNTP    Kind = "ntp"    // an upstream NTP server's leap indicator
	KindChrony Kind = "chrony" // chronyd's tracking report
	KindPTP    Kind = "ptp"    // a PTP grandmaster's time properties
)

// HostGroup is the Group of the sources that reflect the host's own time
// daemon (the kernel's armed leap is set by that daemon, chronyd is it):
// they count once towards a quorum.
const HostGroup = "host"

// Observation is what one source said when it was read.
type Observation struct {
	// Name identifies the source: "kernel", "ntp 127.0.0.1:123",
	// "chrony /run/chrony/chronyd.sock", or the table's source.
	Name string
	// Kind is the sort of source.
	Kind Kind
	// Group names the sources that are not independent of each other; they
	// count once towards a quorum. Empty means the source is its own group.
	Group string
	// Err is why the source could not be read (unreachable, not
	// synchronised, ...); nil when it answered. A source that could not be
	// read announces nothing and disagrees with nobody.
	Err error
	// Announces is the leap second the source announces, nil for none.
	Announces *Announcement
	// TAIMinusUTC is the TAI-UTC offset in seconds that the source states
	// (a PTP grandmaster's currentUtcOffset, the kernel's TAI offset), nil
	// when it states none. OffsetAt is the instant the statement is about:
	// the host's now, which differs from the judged instant during a replay;
	// zero means the judged instant.
	TAIMinusUTC *int
	OffsetAt    time.Time
}

func (o Observation) group() string {
	if o.Group != "" {
		return o.Group
	}
	return o.Name
}

// TableObservation is the table as a source: it announces its first event
// after at, if any.
func TableObservation(t *leap.Table, at time.Time) Observation {
	o := Observation{Name: t.Source, Kind: KindTable}
	if e, ok := t.Next(at); ok {
		a := EventAnnouncement(e)
		o.Announces = &a
	}
	return o
}

// Verdict is the outcome of a comparison, for one leap date or overall.
// Verdicts are ordered by severity: a greater value is worse.
type Verdict int

// The verdicts.
const (
	// None: nothing is announced, neither by the table nor by any source.
	None Verdict = iota
	// Agree: the table has the leap, at least one other source announces
	// it, and no source contradicts it.
	Agree
	// TableOnly: the table has a leap that no other source announces yet.
	// Normal until its last day.
	TableOnly
	// FaultySource: a source announces a leap on a date that an unexpired
	// table rules out, on an impossible date, or with the other sign than
	// the table: that source is wrong and never followed.
	FaultySource
	// UnknownLeap: a source announces a leap that the table does not have,
	// and the table has expired or does not reach that date: the table is
	// probably stale.
	UnknownLeap
)

var verdictNames = [...]string{"none", "agree", "table-only", "faulty-source", "unknown-leap"}

// String returns the verdict's name: none, agree, table-only, faulty-source
// or unknown-leap.
func (v Verdict) String() string {
	if v >= 0 && int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// MarshalText renders the verdict by its name.
func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText reads a verdict by its name.
func (v *Verdict) UnmarshalText(b []byte) error {
	for i, n := range verdictNames {
		if n == string(b) {
			*v = Verdict(i)
			return nil
		}
	}
	return fmt.Errorf("verdict %q: want one of %s", b, strings.Join(verdictNames[:], ", "))
}

// Verdicts returns every verdict, least severe first.
func Verdicts() []Verdict { return []Verdict{None, Agree, TableOnly, FaultySource, UnknownLeap} }

// Failed reports whether the verdict calls for action: unknown-leap or
// faulty-source.
func (v Verdict) Failed() bool { return v == UnknownLeap || v == FaultySource }

// Options tune a comparison.
type Options struct {
	// Months are the months at whose end a leap second is expected from a
	// source; a source announcing one at the end of another month is
	// faulty. Zero means JuneDecember. The table's own events are never
	// judged by it.
	Months Months
}

// Finding is the comparison for one leap date.
type Finding struct {
	// Leap is the leap of that date: the table's when the table has one
	// there, else the one announced by the most independent sources.
	Leap Announcement
	// Verdict is the verdict for this date.
	Verdict Verdict
	// InTable reports that the table has Leap.
	InTable bool
	// LastDay reports that the instant judged at is on Leap.Day.
	LastDay bool
	// Announcing names the sources other than the table that announce Leap.
	Announcing []string
	// Faulty names the sources found faulty for this date.
	Faulty []string
	// Quorum counts the independent groups of sources that announce Leap
	// and are not faulty; for an unknown leap, the number that an adoption
	// rule compares with. Zero when sources disagree on its sign.
	Quorum int
}

// Result is the outcome of Check.
type Result struct {
	// At is the instant the comparison was made for.
	At time.Time
	// TableSource, TableExpires and TableExpired describe the table
	// (TableExpires is zero when it states no expiry).
	TableSource  string
	TableExpires time.Time
	TableExpired bool
	// Sources are the observations compared, the table's first.
	Sources []Observation
	// Findings are the leap dates named by the table's next event or by a
	// source, in date order.
	Findings []Finding
	// WrongOffset names the sources whose TAI-UTC contradicts the table
	// (see OffsetFaulty); they are faulty whatever they announce.
	WrongOffset []string
	// Verdict is the most severe verdict of the findings (None without
	// findings).
	Verdict Verdict
	// Leap is the leap of the finding that gave Verdict (the earliest of
	// equally severe ones; the earliest finding's when a wrong TAI-UTC
	// gave it), nil when there is none.
	Leap *Announcement
	// Problems says in sentences what an operator should know: sources that
	// could not be read, faulty sources, unknown leaps with the command that
	// refreshes the table, an expired table, and on the last day before a
	// leap the sources that do not announce it.
	Problems []string
}

// Faulty returns the names of every source found faulty, in order: those
// with a wrong TAI-UTC first, then those with a wrong leap.
func (r Result) Faulty() []string {
	out := slices.Clone(r.WrongOffset)
	for _, f := range r.Findings {
		for _, n := range f.Faulty {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

// Unreadable returns the observations of the sources that could not be read.
func (r Result) Unreadable() []Observation {
	var out []Observation
	for _, o := range r.Sources {
		if o.Err != nil {
			out = append(out, o)
		}
	}
	return out
}

// Adoptable returns the unknown leaps announced by at least quorum
// independent sources (a quorum below 1 adopts nothing). Whether adopting
// one is still safe (its smear window has not opened) is for the caller to
// judge.
func (r Result) Adoptable(quorum int) []Announcement {
	var out []Announcement
	if quorum < 1 {
		return nil
	}
	for _, f := range r.Findings {
		if f.Verdict == UnknownLeap && f.Quorum >= quorum {
			out = append(out, f.Leap)
		}
	}
	return out
}

// tableEvent returns the event of t whose leap second is on day.
func tableEvent(t *leap.Table, d time.Time) (leap.Event, bool) {
	for _, e := range t.Events {
		if EventAnnouncement(e).Day.Equal(d) {
			return e, true
		}
	}
	return leap.Event{}, false
}

// Check compares the observations of the sources with table t at the
// instant at (the served clock's UTC: during a replay or a rehearsal, the
// replayed instant). The table's expiry is judged at at. Observations of
// kind KindTable are ignored: the table is t.
//
// For every leap date that t's next event or a source names:
//   - t has a leap there: agree when another source announces it,
//     table-only when none does; a source announcing the other sign is
//     faulty;
//   - t has none: a source announcing it is faulty when the date is not the
//     end of a month in opt.Months, or when t has not expired and reaches
//     that date (its expiry is at or after the leap); otherwise the leap is
//     unknown to the table.
func Check(t *leap.Table, at time.Time, sources []Observation, opt Options) Result {
	months := opt.Months
	if months == 0 {
		months = JuneDecember
	}
	at = at.UTC()
	r := Result{At: at, TableSource: t.Source, TableExpires: t.Expires, TableExpired: t.Expired(at)}
	r.Sources = append(r.Sources, TableObservation(t, at))
	var others []Observation
	for _, o := range sources {
		if o.Kind != KindTable {
			others = append(others, o)
		}
	}
	r.Sources = append(r.Sources, others...)
	for _, o := range others {
		if o.Err != nil {
			r.Problems = append(r.Problems, fmt.Sprintf("%s could not be read: %v", o.Name, o.Err))
		}
	}

	var days []time.Time
	addDay := func(d time.Time) {
		if !slices.ContainsFunc(days, d.Equal) {
			days = append(days, d)
		}
	}
	if a := r.Sources[0].Announces; a != nil {
		addDay(a.Day)
	}
	for _, o := range others {
		if o.Err == nil && o.Announces != nil {
			addDay(o.Announces.Day)
		}
	}
	slices.SortFunc(days, func(a, b time.Time) int { return a.Compare(b) })

	for _, o := range others {
		if reason := OffsetFaulty(t, at, o); reason != "" {
			r.WrongOffset = append(r.WrongOffset, o.Name)
			r.Problems = append(r.Problems, fmt.Sprintf("faulty source %s %s: not followed", o.Name, reason))
			r.Verdict = max(r.Verdict, FaultySource)
		}
	}
	unknown := false
	for _, d := range days {
		f, problems := judge(t, at, d, others, r.WrongOffset, months)
		r.Findings = append(r.Findings, f)
		r.Problems = append(r.Problems, problems...)
		if f.Verdict > r.Verdict || r.Leap == nil {
			r.Verdict = max(r.Verdict, f.Verdict)
			l := f.Leap
			r.Leap = &l
		}
		unknown = unknown || f.Verdict == UnknownLeap
	}
	if r.TableExpired && !unknown {
		r.Problems = append(r.Problems, expirySentence(t, at)+": "+RefreshCommand(t))
	}
	return r
}

// judge compares the sources about the leap date d. The sources named in
// wrong (a wrong TAI-UTC) count towards no quorum.
func judge(t *leap.Table, at, d time.Time, others []Observation, wrong []string, months Months) (Finding, []string) {
	f := Finding{LastDay: day(at).Equal(d)}
	var problems []string
	var on []Observation // answering sources that announce a leap on d
	for _, o := range others {
		if o.Err == nil && o.Announces != nil && o.Announces.Day.Equal(d) {
			on = append(on, o)
		}
	}
	if e, ok := tableEvent(t, d); ok {
		f.Leap, f.InTable = EventAnnouncement(e), true
		groups := map[string]bool{}
		for _, o := range on {
			if o.Announces.Sign == f.Leap.Sign {
				f.Announcing = append(f.Announcing, o.Name)
				if !slices.Contains(wrong, o.Name) {
					groups[o.group()] = true
				}
				continue
			}
			f.Faulty = append(f.Faulty, o.Name)
			problems = append(problems, fmt.Sprintf("faulty source %s announces %s, but leap table %s has %s: not followed",
				o.Name, o.Announces.phrase(), t.Source, f.Leap.phrase()))
		}
		f.Quorum = len(groups)
		switch {
		case len(f.Faulty) > 0:
			f.Verdict = FaultySource
		case len(f.Announcing) > 0:
			f.Verdict = Agree
		default:
			f.Verdict = TableOnly
		}
		if f.LastDay {
			problems = append(problems, silentOnLastDay(f, others)...)
		}
		return f, problems
	}

	// The table has no leap on d: which sign do the most groups announce?
	bySign := map[int]map[string]bool{}
	for _, o := range on {
		if slices.Contains(wrong, o.Name) {
			continue
		}
		if bySign[o.Announces.Sign] == nil {
			bySign[o.Announces.Sign] = map[string]bool{}
		}
		bySign[o.Announces.Sign][o.group()] = true
	}
	sign := 1
	if len(bySign[-1]) > len(bySign[1]) {
		sign = -1
	}
	f.Leap = Announcement{Day: d, Sign: sign}
	reason := possible(f.Leap, months)
	if reason == "" && !t.Expired(at) && !f.Leap.Effective().After(t.Expires) {
		reason = fmt.Sprintf("leap table %s, valid until %s, has no leap second then", t.Source, t.Expires.UTC().Format(time.RFC3339))
	}
	if reason != "" {
		f.Verdict = FaultySource
		for _, o := range on {
			f.Faulty = append(f.Faulty, o.Name)
			problems = append(problems, fmt.Sprintf("faulty source %s announces %s, but %s: not followed", o.Name, o.Announces.phrase(), reason))
		}
		return f, problems
	}
	f.Verdict = UnknownLeap
	for _, o := range on {
		if o.Announces.Sign == sign {
			f.Announcing = append(f.Announcing, o.Name)
		}
	}
	f.Quorum = len(bySign[sign])
	coverage := expirySentence(t, at)
	if !t.Expired(at) {
		coverage = fmt.Sprintf("leap table %s does not reach that date (it expires %s); refresh it", t.Source, t.Expires.UTC().Format(time.RFC3339))
	}
	problems = append(problems, fmt.Sprintf("unknown leap: %s %s, which leap table %s does not have; %s: %s",
		announce(f.Announcing), f.Leap.phrase(), t.Source, coverage, RefreshCommand(t)))
	if len(bySign[-sign]) > 0 {
		f.Quorum = 0
		var other []string
		for _, o := range on {
			if o.Announces.Sign != sign {
				other = append(other, o.Name)
			}
		}
		problems = append(problems, fmt.Sprintf("sources disagree on the sign of the leap second at the end of %s: %s %+d: it cannot be adopted",
			d.Format(time.DateOnly), announce(other), -sign))
	}
	return f, problems
}

// announce renders "A announces" or "A, B announce".
func announce(names []string) string {
	if len(names) == 1 {
		return names[0] + " announces"
	}
	return strings.Join(names, ", ") + " announce"
}

// silentOnLastDay warns, on the last day before a leap of the table, of the
// answering sources that do not announce it.
func silentOnLastDay(f Finding, others []Observation) []string {
	var out []string
	for _, o := range others {
		if o.Err != nil || slices.Contains(f.Announcing, o.Name) || slices.Contains(f.Faulty, o.Name) {
			continue
		}
		switch o.Kind {
		case KindKernel, KindChrony:
			what := "the host kernel is not armed for"
			if o.Kind == KindChrony {
				what = o.Name + " does not announce"
			}
			out = append(out, fmt.Sprintf("%s %s, which is tonight: the host's time daemon will step the host clock after it "+
				"(leapsmear's served time is unaffected: it ignores the host's leap handling)", what, f.Leap.phrase()))
		default:
			out = append(out, fmt.Sprintf("%s does not announce %s, which is tonight (a smearing server, or a lost leap indicator)",
				o.Name, f.Leap.phrase()))
		}
	}
	return out
}

// expirySentence is the table's own word (leap.Table.Problems) on its
// expiry at at, for a table that has expired or states none.
func expirySentence(t *leap.Table, at time.Time) string {
	for _, p := range t.Problems(at) {
		if p.Kind == leap.Expired || p.Kind == leap.NoExpiry {
			return p.String()
		}
	}
	return "leap table " + t.Source + " has expired; refresh it"
}

// IERSList is where the IERS publishes the current leap-seconds.list.
const IERSList = "https://hpiers.obspm.fr/iers/bul/bulc/ntp/leap-seconds.list"

// RefreshCommand returns the shell command that replaces table t with the
// current IERS leap-seconds.list and checks it: in place when t was read
// from a leap-seconds.list outside tzdata's folder, else into
// /etc/leapsmear/leap-seconds.list, which the server must then be given.
func RefreshCommand(t *leap.Table) string {
	path := "/etc/leapsmear/leap-seconds.list"
	inPlace := t.Format == leap.FormatIERS && strings.HasPrefix(t.Source, "/") && !strings.HasPrefix(t.Source, "/usr/share/zoneinfo/")
	if inPlace {
		path = t.Source
	}
	cmd := fmt.Sprintf("curl -fsSLo %[1]s.new %[2]s && leapsmear table --leap-file %[1]s.new && mv %[1]s.new %[1]s", path, IERSList)
	if inPlace {
		return cmd + " && kill -HUP $(pidof leapsmear)"
	}
	return cmd + ", then serve with --leap-file " + path
}

// OffsetSlack is how far from the instant a source's TAI-UTC is about a
// leap of the table may lie and still excuse it: a source may change its
// offset a little before or after the leap itself.
const OffsetSlack = time.Minute

// OffsetFaulty says why the TAI-UTC that observation o states contradicts
// table t, or returns "" when it does not: o could not be read, states no
// offset, or states the table's offset at its instant (o.OffsetAt, else
// at), or the table's offset within OffsetSlack of it. A table that has
// expired at that instant vouches for nothing and finds no source faulty.
func OffsetFaulty(t *leap.Table, at time.Time, o Observation) string {
	if o.Err != nil || o.TAIMinusUTC == nil {
		return ""
	}
	when := o.OffsetAt
	if when.IsZero() {
		when = at
	}
	if t.Expired(when) {
		return ""
	}
	got, want := *o.TAIMinusUTC, t.OffsetAt(when)
	if got == want || got == t.OffsetAt(when.Add(-OffsetSlack)) || got == t.OffsetAt(when.Add(OffsetSlack)) {
		return ""
	}
	return fmt.Sprintf("states TAI-UTC = %d s at %s, but leap table %s has %d s", got,
		when.UTC().Format(time.RFC3339), t.Source, want)
}
