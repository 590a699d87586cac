package smear

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/leap"
)

const sec = leap.Second

// leap2016 is the part of the real table around the 2016-12-31 leap: TAI-UTC
// went from 35 to 36 on 2015-07-01 and to 37 on 2017-01-01.
func leap2016() *leap.Table {
	return &leap.Table{Base: 35, Source: "test 2015+2016", Events: []leap.Event{
		{Effective: time.Date(2015, 7, 1, 0, 0, 0, 0, time.UTC), TAIUTC: 36, Delta: 1},
		{Effective: time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC), TAIUTC: 37, Delta: 1},
	}}
}

// synthetic returns a table whose only event is a leap of the given sign
// taking effect at the midnight that ends 2030-06-30, with TAI-UTC 37 before.
func synthetic(sign int) *leap.Table {
	return &leap.Table{Base: 37, Source: "synthetic", Events: []leap.Event{
		{Effective: time.Date(2030, 7, 1, 0, 0, 0, 0, time.UTC), TAIUTC: 37 + sign, Delta: sign},
	}}
}

func mustSmear(t testing.TB, table *leap.Table, policy string) *Smear {
	t.Helper()
	p, err := Parse(policy)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(table, p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustTAI(t testing.TB, table *leap.Table, label string) leap.TAI {
	t.Helper()
	l, err := leap.ParseLabel(label)
	if err != nil {
		t.Fatal(err)
	}
	x, err := table.TAIFromLabel(l)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// TestPresets2016 checks every preset against values worked out by hand for
// the leap at the end of 2016-12-31. T is 2017-01-01T00:00:00Z on U, and the
// true UTC instants below map to U = true UTC before the leap, U = T + 0.5 s
// for 23:59:60.5, and U = true UTC + 1 s after it. The offset is served minus
// true UTC in POSIX seconds, which repeat 23:59:59 during the leap second, so
// with f the applied fraction in ns: before the leap offset = -f, during the
// leap second and after it offset = 1e9 - f.
func TestPresets2016(t *testing.T) {
	table := leap2016()
	cases := []struct {
		policy, at string
		offset     int64
	}{
		// noon-to-noon: linear from U = T-12h over 86 401 s; f = floor(d*1e9/86401e9).
		{"noon-to-noon", "2016-12-31T11:59:59Z", 0},
		{"noon-to-noon", "2016-12-31T12:00:00Z", 0},
		{"noon-to-noon", "2016-12-31T18:00:00Z", -249997106},       // d = 21600 s: 21600e9/86401 = 249997106.5
		{"noon-to-noon", "2016-12-31T23:59:59.5Z", -499988426},     // d = 43199.5 s
		{"noon-to-noon", "2016-12-31T23:59:60.5Z", 500000000},      // d = 43200.5 s: f = 1/2 exactly
		{"noon-to-noon", "2017-01-01T06:00:00Z", 249997107},        // d = 64801 s: f = 750002893
		{"noon-to-noon", "2017-01-01T12:00:00Z", 0},                // d = 86401 s: f = 1
		{"noon-to-noon", "2017-01-01T09:00:00Z", 1e9 - 875001446},  // d = 75601 s
		{"google-2016", "2016-12-31T14:00:00Z", 0},                 // window opens at T-10h
		{"google-2016", "2016-12-31T18:00:00Z", -199997222},        // d = 14400 s of 72001 s
		{"google-2016", "2017-01-01T06:00:00Z", 199997223},         // d = 57601 s: f = 800002777
		{"google-2016", "2017-01-01T10:00:00Z", 0},                 // window closes at 10:00 UTC
		{"cosine-2008", "2016-12-31T00:00:00Z", 0},                 // window opens at T-24h
		{"cosine-2008", "2016-12-31T12:00:00Z", -500000000},        // x = 1/2: f = (1-cos(pi/2))/2 = 1/2
		{"cosine-2008", "2016-12-31T18:00:00Z", -853553390},        // x = 3/4: (1+sqrt(2)/2)/2 = 0.8535533906
		{"cosine-2008", "2016-12-31T23:59:59.5Z", -999999999},      // 1-f = sin^2(pi/2*0.5/86400) = 8.3e-11
		{"cosine-2008", "2016-12-31T23:59:60.5Z", 0},               // window closed at U = T
		{"quadratic-17h", "2016-12-31T23:59:59.5Z", 0},             // window opens at U = T
		{"quadratic-17h", "2016-12-31T23:59:60.5Z", 1e9},           // d = 0.5 s: 2*(0.5/62500)^2 = 1.28e-10
		{"quadratic-17h", "2017-01-01T00:16:40Z", 1e9 - 513024},    // d = 1001 s: 2e9*1001^2/62500^2 = 513024.6
		{"quadratic-17h", "2017-01-01T06:00:00Z", 1e9 - 238900838}, // d = 21601 s: 2e9*21601^2/62500^2
		{"quadratic-17h", "2017-01-01T09:00:00Z", 1e9 - 536153701}, // d = 32401 s > L/2: 1e9 - 2e9*30099^2/62500^2
		{"quadratic-17h", "2017-01-01T12:00:00Z", 1e9 - 809304882}, // d = 43201 s: 1e9 - 2e9*19299^2/62500^2
		{"quadratic-17h", "2017-01-01T17:21:39Z", 0},               // d = 62500 s: f = 1
		{"slew-500ppm", "2016-12-31T23:59:60.5Z", 1e9 - 250000},    // d = 0.5 s of 2000 s
		{"slew-500ppm", "2017-01-01T00:16:40Z", 1e9 - 500500000},   // d = 1001 s of 2000 s
		{"slew-500ppm", "2017-01-01T00:33:19Z", 0},                 // d = 2000 s: f = 1
		{"step", "2016-12-31T23:59:59.5Z", 0},                      // step always serves true UTC
		{"step", "2016-12-31T23:59:60.5Z", 0},                      // ... which repeats 23:59:59
		{"step", "2017-01-01T00:00:00Z", 0},
	}
	for _, c := range cases {
		s := mustSmear(t, table, c.policy)
		x := mustTAI(t, table, c.at)
		if got := s.Offset(x); got != time.Duration(c.offset) {
			t.Errorf("%s at %s: offset %d ns, want %d", c.policy, c.at, got, c.offset)
		}
	}
}

func TestStepServesTrueUTCAndAnnounces(t *testing.T) {
	for _, sign := range []int{1, -1} {
		table := synthetic(sign)
		s := mustSmear(t, table, "step")
		e := table.Events[0]
		midnight := e.Unix() * sec
		start := leap.TAI(midnight + int64(e.Before())*sec - 2*86400*sec)
		for x := start; x < start+leap.TAI(3*86400*sec); x += leap.TAI(997 * time.Millisecond) {
			if got, want := s.Served(x), table.UnixFromTAI(x); int64(got) != int64(want) {
				t.Fatalf("sign %+d: step served %d at %d, true UTC %d", sign, got, x, want)
			}
		}
		wantLI := LIInsert
		if sign < 0 {
			wantLI = LIDelete
		}
		// The last UTC day before T: LI from 00:00:00 until the leap is over.
		dayStart := mustTAI(t, table, "2030-06-30T00:00:00Z")
		if got := s.LI(dayStart - 1); got != LINone {
			t.Errorf("sign %+d: LI %d the nanosecond before the leap day, want 0", sign, got)
		}
		if got := s.LI(dayStart); got != wantLI {
			t.Errorf("sign %+d: LI %d at the start of the leap day, want %d", sign, got, wantLI)
		}
		after := leap.TAI(midnight + int64(e.TAIUTC)*sec)
		if got := s.LI(after - 1); got != wantLI {
			t.Errorf("sign %+d: LI %d in the last nanosecond before 00:00:00, want %d", sign, got, wantLI)
		}
		if got := s.LI(after); got != LINone {
			t.Errorf("sign %+d: LI %d at 00:00:00 after the leap, want 0", sign, got)
		}
		smeared := mustSmear(t, table, "noon-to-noon")
		if got := smeared.LI(after - 1); got != LINone {
			t.Errorf("sign %+d: smearing policy announces LI %d", sign, got)
		}
	}
}

// TestNegativeLeapStepJumpsAtMissingSecond checks that for a deleted second
// the step happens at U = T-1s, when the old clock would read 23:59:59.
func TestNegativeLeapStepJumpsAtMissingSecond(t *testing.T) {
	table := synthetic(-1)
	s := mustSmear(t, table, "step")
	x := mustTAI(t, table, "2030-06-30T23:59:58.999999999Z")
	if got := s.Served(x).Time().Format(time.RFC3339Nano); got != "2030-06-30T23:59:58.999999999Z" {
		t.Errorf("served %s before the jump", got)
	}
	if got := s.Served(x + 1).Time().Format(time.RFC3339Nano); got != "2030-07-01T00:00:00Z" {
		t.Errorf("served %s one nanosecond later, want 2030-07-01T00:00:00Z", got)
	}
}

func TestParse(t *testing.T) {
	for _, name := range PresetNames() {
		p, err := Parse(name)
		if err != nil || p.Name != name {
			t.Errorf("Parse(%q) = %v, %v", name, p, err)
		}
	}
	p, err := Parse("linear:-30s:61s")
	if err != nil {
		t.Fatal(err)
	}
	if p.Shape != Linear || p.Start != -30*time.Second || p.Length != 61*time.Second || p.AddLeap {
		t.Errorf("linear:-30s:61s parsed as %+v", p)
	}
	if q, err := Parse(p.Spec(1)); err != nil || q.Start != p.Start || q.Length != p.Length || q.Shape != p.Shape {
		t.Errorf("Spec %q does not parse back: %+v %v", p.Spec(1), q, err)
	}
	bad := map[string]string{
		"":                    "want a preset",
		"noon":                "want a preset",
		"sine:0s:1h":          "unknown smear shape",
		"linear:0s":           "want a preset",
		"linear:x:1h":         `window start "x": want a duration from the leap such as -12h`,
		"linear:-12x:24h":     `window start "-12x": want a duration`,
		"linear:0s:1y":        `window length "1y": want a duration such as 24h`,
		"linear:0s:0s":        "must be positive",
		"linear:0s:-1h":       "must be positive",
		"linear:0s:100h":      "longer than",
		"linear:-100h:1h":     "contain the leap",
		"linear:0s:1s":        "ppm",
		"quadratic:0s:3s":     "ppm",
		"step:0s:1h":          "takes no window",
		"linear:1h:2h":        "contain the leap",
		"cosine:-3h:2h":       "contain the leap",
		"quadratic:-1h:30m0s": "contain the leap",
	}
	for spec, want := range bad {
		if _, err := Parse(spec); err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "time: ") {
			t.Errorf("Parse(%q) error %v, want one mentioning %q", spec, err, want)
		}
	}
}

func TestMaxRates(t *testing.T) {
	want := map[string]float64{
		"noon-to-noon":  1e6 / 86401,
		"google-2016":   1e6 / 72001,
		"cosine-2008":   3.141592653589793 / 2 * 1e6 / 86400,
		"quadratic-17h": 32,
		"slew-500ppm":   500,
	}
	for name, w := range want {
		p, _ := Parse(name)
		if got := p.MaxRatePPM(1); got < w*(1-1e-12) || got > w*(1+1e-12) {
			t.Errorf("%s max rate %.6f ppm, want %.6f", name, got, w)
		}
	}
}

func TestOverlappingWindowsRejected(t *testing.T) {
	table := &leap.Table{Base: 37, Source: "close events", Events: []leap.Event{
		{Effective: time.Date(2030, 7, 1, 0, 0, 0, 0, time.UTC), TAIUTC: 38, Delta: 1},
		{Effective: time.Date(2030, 8, 1, 0, 0, 0, 0, time.UTC), TAIUTC: 37, Delta: -1},
	}}
	if _, err := New(table, mustPolicy(t, "noon-to-noon")); err != nil {
		t.Fatalf("a month apart, noon-to-noon windows do not overlap: %v", err)
	}
	p := mustPolicy(t, "linear:-72h:72h")
	table.Events[1].Effective = time.Date(2030, 7, 2, 0, 0, 0, 0, time.UTC) // invalid as a table, but a good overlap
	_, err := New(table, p)
	if err == nil || !strings.Contains(err.Error(), "2030-06-30") || !strings.Contains(err.Error(), "2030-07-01") {
		t.Fatalf("overlap error %v should name both events", err)
	}
}

func mustPolicy(t testing.TB, spec string) Policy {
	t.Helper()
	p, err := Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// randomPolicies returns the presets and n random custom policies.
func randomPolicies(r *rand.Rand, n int) []Policy {
	ps := Presets()
	shapes := []Shape{Linear, Cosine, Quadratic}
	for len(ps) < len(presets)+n {
		shape := shapes[r.IntN(len(shapes))]
		length := time.Duration(4e9 + r.Int64N(int64(MaxLength-5*time.Second)))
		if r.IntN(3) == 0 {
			length = time.Duration(4e9 + r.Int64N(600e9)) // short windows: steep smears
		}
		start := -time.Duration(r.Int64N(int64(length) + 1))
		p := Policy{Name: "random", Shape: shape, Start: start, Length: length}
		if r.IntN(4) == 0 {
			p.DeletedEarly = time.Duration(r.Int64N(int64(length / 4)))
		}
		if p.Validate() == nil {
			ps = append(ps, p)
		}
	}
	return ps
}

// TestSpecPlacesTheSameWindow checks that the custom spelling of every preset
// for each sign places the window the preset places, the deleted second's
// earlier start of quadratic-17h included.
func TestSpecPlacesTheSameWindow(t *testing.T) {
	for _, sign := range []int{1, -1} {
		table := synthetic(sign)
		for _, p := range Presets() {
			if p.Shape == Step {
				continue
			}
			a, err := New(table, p)
			if err != nil {
				t.Fatal(err)
			}
			b := mustSmear(t, table, p.Spec(sign))
			if wa, wb := a.Windows()[0], b.Windows()[0]; wa.Start != wb.Start || wa.End != wb.End {
				t.Errorf("%s sign %+d: window %s to %s, but %s places it at %s to %s", p.Name, sign,
					table.LabelFromTAI(wa.Start), table.LabelFromTAI(wa.End), p.Spec(sign), table.LabelFromTAI(wb.Start), table.LabelFromTAI(wb.End))
			}
		}
	}
	bad := Policy{Name: "bad", Shape: Linear, Length: time.Hour, DeletedEarly: -time.Second}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "DeletedEarly") {
		t.Errorf("negative DeletedEarly: %v", err)
	}
	late := Policy{Name: "late", Shape: Linear, Length: time.Hour, DeletedEarly: 2 * time.Hour}
	if err := late.Validate(); err == nil || !strings.Contains(err.Error(), "contain the leap") {
		t.Errorf("a deleted-second window that ends before the leap: %v", err)
	}
}
