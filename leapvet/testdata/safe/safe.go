// Package safe has what leapvet must not report.
package safe

import (
	"math/rand"
	"time"
)

// Since Go 1.9 time.Now() carries a monotonic reading: safe.
func monotonic() {
	start := time.Now()
	d := time.Since(start)
	_ = rand.Int63n(int64(d))
	_ = rand.Int63n(int64(time.Now().Sub(start)))
	_ = rand.Int63n(int64(time.Until(start.Add(time.Minute))))
	t := time.NewTicker(time.Since(start))
	t.Reset(time.Now().Add(time.Second).Sub(start))
}

// A guard anywhere in the function: precision over recall.
func guarded(sec int64) {
	d := time.Since(time.Unix(sec, 0))
	if d <= 0 {
		d = time.Millisecond
	}
	_ = rand.Int63n(int64(d))
	e := time.Until(time.Unix(sec, 0))
	if e < time.Second {
		return
	}
	_ = time.NewTicker(e)
	ms := time.Since(time.Unix(sec, 0)).Milliseconds()
	switch {
	case ms > 0:
		_ = rand.Int63n(ms)
	}
}

// Guarded by the comparison of a value derived from it.
func guardedDerived(sec int64) {
	d := time.Since(time.Unix(sec, 0))
	if d.Seconds() < 1 {
		return
	}
	_ = make([]byte, int(d/time.Second))
}

// Clamped with max.
func clamped(sec int64) {
	d := time.Since(time.Unix(sec, 0))
	_ = rand.Int63n(max(int64(d), 1))
	n := max(int(d/time.Second), 0)
	_ = make([]int, n)
}

// A time computed from the other operand differs from it by construction.
func byConstruction() {
	now := time.Now()
	next := now.Truncate(time.Hour).Add(time.Hour)
	t := time.NewTicker(next.Sub(now))
	midnight := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, now.Location())
	t.Reset(midnight.Sub(now))
}

// Not tracked: parameters, exported time fields (another package may set
// them), fields also given time.Now() or whose address is taken, function
// values, additions, negations.
type state struct {
	last    time.Time
	mixed   time.Time
	decoded time.Time
	Public  time.Time
}

func (s *state) set(b []byte) {
	s.mixed = time.Now().UTC()
	s.mixed = time.Now()
	s.decoded = time.Now().UTC()
	_ = s.decoded.UnmarshalText(b)
	s.Public = time.Now().UTC()
}

var nowFunc = func() time.Time { return time.Now().UTC() }

func notTracked(t time.Time, s *state, base time.Duration) {
	_ = rand.Int63n(int64(time.Since(t)))
	_ = rand.Int63n(int64(time.Since(s.last)))
	_ = rand.Int63n(int64(time.Since(s.mixed)))
	_ = rand.Int63n(int64(time.Since(s.decoded)))
	_ = rand.Int63n(int64(time.Since(s.Public)))
	_ = rand.Int63n(int64(time.Since(nowFunc())))
	d := time.Since(time.Now().UTC())
	_ = time.NewTicker(d + base)
	_ = rand.Int63n(int64(-d))
}

// Uses that do not break on a negative or zero value.
func harmless(sec int64, m map[int]string) {
	d := time.Since(time.Unix(sec, 0))
	println(d.String())
	_ = m[int(d)]
	_ = float64(sec) / d.Seconds()
	time.Sleep(d)
	_ = time.NewTimer(d)
	_ = time.After(d)
	_ = int64(d) * 2
}

// A Unix reading less something that is not one is not a difference of
// readings.
func notADifference(ttl int64) {
	_ = rand.Int63n(time.Now().Unix() - ttl)
}

// A function that guards its parameter, or is given a safe value.
func safeJitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(rand.Int63n(int64(d)))
}

func jitter(d time.Duration) time.Duration { return time.Duration(rand.Int63n(int64(d))) }

func callers(sec int64) {
	_ = safeJitter(time.Since(time.Unix(sec, 0)))
	_ = jitter(time.Second)
	start := time.Now()
	_ = jitter(time.Since(start))
}

// Differences with a fixed instant convert a time to another epoch: not
// elapsed time (NTP's era arithmetic, days since 2000 in a date encoding).
var ntpEra0 = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)

func epochs(t time.Time) {
	_ = uint64(t.Unix() - ntpEra0.Unix())
	y2k := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	_ = int32((t.UTC().Unix() - y2k) / 86400)
	_ = uint64(t.UTC().Sub(ntpEra0))
	_ = uint64(time.Since(time.Unix(0, 0)))
}
