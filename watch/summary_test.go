package watch

import (
	"errors"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/smear"
)

// rehearsalRecord is a watch of a step, a linear smear and a deleted second
// around leapAt, with server c missing every tenth round.
func rehearsalRecord(t *testing.T) *Record {
	f := fleet{smears: []*smear.Smear{mustSmear(t, "step", 1), mustSmear(t, "linear:-30s:1m", 1), mustSmear(t, "cosine:-30s:1m", -1)},
		offsets: make([]time.Duration, 3), jitter: 200 * time.Microsecond}
	rec := f.record(leapAt.Add(-40*time.Second), leapAt.Add(40*time.Second))
	rec.Addrs = []string{"192.0.2.1:123", "192.0.2.2:123", "192.0.2.3:123"}
	for k := range rec.Rounds {
		rec.Rounds[k].Samples[0].Leap = 1
		if k%10 == 3 {
			rec.Rounds[k].Samples[2] = Sample{Err: errTest}
		}
	}
	return rec
}

func TestSummarize(t *testing.T) {
	rec := rehearsalRecord(t)
	sum := Summarize(rec, Options{Leap: leapAt}, SpreadOptions{})
	if sum.Rounds != 321 || sum.Every != 250*time.Millisecond || !sum.Start.Equal(leapAt.Add(-40*time.Second)) || !sum.End.Equal(leapAt.Add(40*time.Second)) {
		t.Errorf("summary header: %+v", sum)
	}
	want := []struct {
		class          Class
		shape, policy  string
		total          time.Duration
		answered, lost int
		lis            []uint8
	}{
		{ClassStep, "step", "step", time.Second, 321, 0, []uint8{1}},
		{ClassSmear, "linear", "linear:-30s:1m0s", time.Second, 321, 0, []uint8{0}},
		{ClassSmear, "cosine", "cosine:-30s:1m0s", -time.Second, 289, 32, []uint8{0}},
	}
	for i, w := range want {
		s := sum.Servers[i]
		if s.Server != rec.Servers[i] || s.Address != rec.Addrs[i] || s.Class != w.class || s.Shape != w.shape || s.Policy != w.policy ||
			!within(s.TotalOffset, w.total, time.Microsecond) || s.Answered != w.answered || s.Lost != w.lost ||
			len(s.LeapIndicators) != len(w.lis) || s.LeapIndicators[0] != w.lis[0] || s.Leap.IsZero() || !s.Complete || !s.Measured() {
			t.Errorf("server %d: %+v, want %+v", i, s, w)
		}
	}
	if !errors.Is(sum.Servers[2].Err, errTest) {
		t.Errorf("error of server c: %v", sum.Servers[2].Err)
	}
	// At the end the two that inserted a second are 2 s from the one that
	// deleted it.
	a, b, ok := sum.SpreadBetween()
	if !within(sum.Spread.Max, 2*time.Second, time.Microsecond) || !ok || b != "c" || a == b {
		t.Errorf("spread %v between %q and %q (%v)", sum.Spread.Max, a, b, ok)
	}
}

// TestSummarizeSilence: a server that never answered is not measured, and a
// watch of one server compares none.
func TestSummarizeSilence(t *testing.T) {
	rec := rehearsalRecord(t)
	for k := range rec.Rounds {
		rec.Rounds[k].Samples[1] = Sample{Err: errTest}
	}
	sum := Summarize(rec, Options{Leap: leapAt}, SpreadOptions{})
	if s := sum.Servers[1]; s.Measured() || s.Class != ClassUnknown || s.Answered != 0 || s.Lost != 321 ||
		s.TotalOffset != 0 || !s.Leap.IsZero() || len(s.LeapIndicators) != 0 || !errors.Is(s.Err, errTest) {
		t.Errorf("silent server: %+v", s)
	}
	one := &Record{Servers: rec.Servers[:1], Every: rec.Every}
	for _, rd := range rec.Rounds {
		one.Rounds = append(one.Rounds, Round{At: rd.At, Samples: rd.Samples[:1]})
	}
	if sum := Summarize(one, Options{}, SpreadOptions{}); sum.Spread.Rounds != 0 {
		t.Errorf("one server: spread %+v", sum.Spread)
	} else if _, _, ok := sum.SpreadBetween(); ok {
		t.Error("one server: a spread between two servers")
	}
}
