package watch

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/smear"
)

// fleet builds a record of servers serving the given smears (with extra
// constant offsets), polled every 250 ms around leapAt. Within a round each
// server is polled jitter apart from the previous one; each sample's delay
// is base plus an excess, and half the excess moves its offset, as a queue
// on one path does.
type fleet struct {
	smears  []*smear.Smear
	offsets []time.Duration
	jitter  time.Duration
	excess  func(round, server int) time.Duration
}

func (f fleet) record(from, to time.Time) *Record {
	rec := &Record{Every: 250 * time.Millisecond}
	for i := range f.smears {
		rec.Servers = append(rec.Servers, string(rune('a'+i)))
	}
	k := 0
	for at := from; !at.After(to); at = at.Add(rec.Every) {
		rd := Round{At: at}
		for i, s := range f.smears {
			t := at.Add(time.Duration(i) * f.jitter)
			x := leap.TAI(t.UnixNano() + 37*leap.Second)
			smp := Sample{At: t, Offset: s.Served(x).Time().Sub(t) + f.offsets[i], Delay: 20 * time.Microsecond, Answered: true}
			if f.excess != nil {
				e := f.excess(k, i)
				smp.Delay += e
				smp.Offset += e / 2
			}
			rd.Samples = append(rd.Samples, smp)
		}
		rec.Rounds = append(rec.Rounds, rd)
		k++
	}
	return rec
}

func same(t *testing.T, policy string, n int) ([]*smear.Smear, []time.Duration) {
	s := mustSmear(t, policy, 1)
	smears := make([]*smear.Smear, n)
	for i := range smears {
		smears[i] = s
	}
	return smears, make([]time.Duration, n)
}

// TestSpreadAlignsRounds: four servers serving the same steep smear, polled
// 700 us apart within each round, differ by up to 70 us sample to sample;
// brought to the round's instant they agree to within a microsecond (the
// line through the neighbours is exact on each quadratic half; what is left
// is where the curvature changes, at the edges and the middle).
func TestSpreadAlignsRounds(t *testing.T) {
	smears, offsets := same(t, "quadratic:-30s:1m", 4)
	rec := fleet{smears: smears, offsets: offsets, jitter: 700 * time.Microsecond}.record(leapAt.Add(-40*time.Second), leapAt.Add(40*time.Second))
	raw := time.Duration(0)
	for _, rd := range rec.Rounds {
		raw = max(raw, abs(rd.Samples[3].Offset-rd.Samples[0].Offset))
	}
	if raw < 65*time.Microsecond {
		t.Fatalf("raw difference %v: the test does not exercise the alignment", raw)
	}
	sp := Align(rec, SpreadOptions{}).Spread()
	if sp.Max > time.Microsecond || sp.Rounds != len(rec.Rounds) {
		t.Errorf("spread %v over %d of %d rounds, want under 1 us over all (raw differences reach %v)", sp.Max, sp.Rounds, len(rec.Rounds), raw)
	}
}

// TestSpreadMeasuresDifferences: a server 300 us ahead of the others is the
// spread, named with the server furthest from it.
func TestSpreadMeasuresDifferences(t *testing.T) {
	smears, offsets := same(t, "quadratic:-30s:1m", 3)
	offsets[1] = 300 * time.Microsecond
	offsets[2] = -20 * time.Microsecond
	rec := fleet{smears: smears, offsets: offsets, jitter: time.Millisecond}.record(leapAt.Add(-40*time.Second), leapAt.Add(40*time.Second))
	al := Align(rec, SpreadOptions{})
	sp := al.Spread()
	if !within(sp.Max, 320*time.Microsecond, time.Microsecond) || sp.A != 1 || sp.B != 2 {
		t.Errorf("spread %v between %d and %d, want 320 us between 1 and 2", sp.Max, sp.A, sp.B)
	}
	for k := range rec.Rounds {
		if d, ok := al.Relative(k, 1); !ok || !within(d, 300*time.Microsecond, time.Microsecond) {
			t.Fatalf("round %d: server 1 relative to 0: %v %v", k, d, ok)
		}
		if d, ok := al.Relative(k, 0); !ok || d != 0 {
			t.Fatalf("round %d: reference relative to itself: %v %v", k, d, ok)
		}
	}
}

// TestSpreadLinearCorners: at the corners of a linear window the line
// through the neighbours misses by at most half the rate times the distance
// moved; everywhere else it is exact.
func TestSpreadLinearCorners(t *testing.T) {
	smears, offsets := same(t, "linear:-30s:1m", 2)
	const jitter = time.Millisecond
	rec := fleet{smears: smears, offsets: offsets, jitter: jitter}.record(leapAt.Add(-40*time.Second), leapAt.Add(40*time.Second))
	al := Align(rec, SpreadOptions{})
	bound := jitter/60/2 + 10*time.Nanosecond // rate 1/60 s per s
	worst := time.Duration(0)
	for k := range rec.Rounds {
		d, ok := al.Relative(k, 1)
		if !ok || abs(d) > bound {
			t.Fatalf("round %d: %v %v, want within %v", k, d, ok, bound)
		}
		if corner := al.At[k].Sub(leapAt.Add(-30 * time.Second)); abs(d) > 10*time.Nanosecond &&
			abs(corner) > 250*time.Millisecond && abs(corner-time.Minute) > 250*time.Millisecond {
			t.Errorf("round %d, %v from the window's start: off by %v away from a corner", k, corner, d)
		}
		worst = max(worst, abs(d))
	}
	if worst < bound/4 {
		t.Errorf("worst error %v: the test does not reach a corner", worst)
	}
}

// TestSpreadDelayMargin: replies delayed on one path (excess delay up to
// 2 ms, offset off by half of it) are left out of the spread; counting them
// would report a spread of a millisecond.
func TestSpreadDelayMargin(t *testing.T) {
	smears, offsets := same(t, "cosine:-30s:1m", 4)
	rng := rand.New(rand.NewPCG(11, 12))
	excess := make(map[[2]int]time.Duration)
	f := fleet{smears: smears, offsets: offsets, jitter: 300 * time.Microsecond, excess: func(k, i int) time.Duration {
		e := time.Duration(rng.IntN(20)) * time.Microsecond // jitter within the margin
		if rng.IntN(10) == 0 {
			e = time.Duration(100+rng.IntN(1900)) * time.Microsecond
		}
		excess[[2]int{k, i}] = e
		return e
	}}
	rec := f.record(leapAt.Add(-40*time.Second), leapAt.Add(40*time.Second))
	al := Align(rec, SpreadOptions{})
	sp := al.Spread()
	// What is left is the jitter within the margin: at most half of 20 us
	// each way, plus the alignment's error on a noisy slope.
	if sp.Max > 12*time.Microsecond || sp.Rounds < len(rec.Rounds)*9/10 {
		t.Errorf("spread %v over %d of %d rounds, want under 12 us over 90%%", sp.Max, sp.Rounds, len(rec.Rounds))
	}
	for k := range rec.Rounds {
		for i := range 4 {
			if excess[[2]int{k, i}] > DefaultDelayMargin && al.Offsets[k][i].OK {
				t.Fatalf("round %d server %d: a sample with excess delay %v is compared", k, i, excess[[2]int{k, i}])
			}
		}
	}
	for i, m := range al.Margins {
		if m != DefaultDelayMargin {
			t.Errorf("margin of server %d: %v", i, m)
		}
	}
	if all := Align(rec, SpreadOptions{DelayMargin: time.Second}).Spread(); all.Max < 500*time.Microsecond {
		t.Errorf("with every reply compared the spread is %v: the delayed ones should show", all.Max)
	}
}

// TestSpreadMarginFollowsJitter: on a path whose delay varies by
// milliseconds, the margin widens to the median excess so that half the
// replies still count.
func TestSpreadMarginFollowsJitter(t *testing.T) {
	smears, offsets := same(t, "linear:-30s:1m", 2)
	f := fleet{smears: smears, offsets: offsets, excess: func(k, i int) time.Duration {
		return time.Duration((k*3+i)%10) * time.Millisecond
	}}
	rec := f.record(leapAt.Add(-40*time.Second), leapAt.Add(40*time.Second))
	al := Align(rec, SpreadOptions{})
	for i, m := range al.Margins {
		if m != 4*time.Millisecond {
			t.Errorf("server %d: margin %v, want the median excess 4ms", i, m)
		}
	}
	// Server 0 counts when k*3 % 10 is 0 to 4, server 1 when it is 0 to 3.
	if sp := al.Spread(); sp.Rounds < len(rec.Rounds)*35/100 {
		t.Errorf("%d of %d rounds compared", sp.Rounds, len(rec.Rounds))
	}
}

// TestSpreadAcrossSteps: two servers stepping at the same instant, polled
// on either side of it within one round, are not a second apart: the round
// where a step falls between a sample and the round's instant does not
// compare that server. A server that steps against one that smears is.
func TestSpreadAcrossSteps(t *testing.T) {
	step := mustSmear(t, "step", 1)
	// Polls every 250 ms from 0.1 ms before the jump on the watcher's clock:
	// the first server is polled just before it, the second 0.3 ms later,
	// just after it.
	from := leapAt.Add(-100 * time.Microsecond).Add(-40 * 250 * time.Millisecond)
	rec := fleet{smears: []*smear.Smear{step, step}, offsets: make([]time.Duration, 2), jitter: 300 * time.Microsecond}.record(from, from.Add(20*time.Second))
	sp := Align(rec, SpreadOptions{}).Spread()
	if sp.Max > time.Microsecond || sp.Rounds != len(rec.Rounds)-1 {
		t.Errorf("spread %v over %d of %d rounds, want 0 over all but the round of the step", sp.Max, sp.Rounds, len(rec.Rounds))
	}
	lin := mustSmear(t, "linear:-30s:1m", 1)
	rec = fleet{smears: []*smear.Smear{step, lin}, offsets: make([]time.Duration, 2), jitter: 300 * time.Microsecond}.record(from.Add(-30*time.Second), from.Add(50*time.Second))
	if sp := Align(rec, SpreadOptions{}).Spread(); !within(sp.Max, 500*time.Millisecond, time.Millisecond) {
		t.Errorf("step against a linear smear centred on the leap: spread %v, want 0.5 s", sp.Max)
	}
}

// TestSpreadMissingAnswers: rounds where fewer than two servers answered
// compare nothing.
func TestSpreadMissingAnswers(t *testing.T) {
	smears, offsets := same(t, "linear:-30s:1m", 2)
	rec := fleet{smears: smears, offsets: offsets}.record(leapAt, leapAt.Add(2*time.Second))
	for k := range rec.Rounds {
		if k%2 == 0 {
			rec.Rounds[k].Samples[k%4/2] = Sample{Err: errTest}
		}
	}
	sp := Align(rec, SpreadOptions{}).Spread()
	if want := len(rec.Rounds) / 2; sp.Rounds != want {
		t.Errorf("%d rounds compared, want %d", sp.Rounds, want)
	}
	if sp := Align(&Record{Servers: []string{"a"}}, SpreadOptions{}).Spread(); sp.Rounds != 0 || sp.Max != 0 {
		t.Errorf("empty record: %+v", sp)
	}
}

type testError struct{}

func (testError) Error() string { return "no answer (test)" }

var errTest error = testError{}
