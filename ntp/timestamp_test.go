package ntp

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"
)

// era1 is the first instant of NTP era 1, where the 32-bit seconds roll over.
var era1 = time.Date(2036, 2, 7, 6, 28, 16, 0, time.UTC)

// refFromUnixNano is an independent reference for TimestampFromUnixNano in
// arbitrary precision: round((ns + 2208988800e9) * 2^32 / 1e9) modulo 2^64,
// halves rounded up.
func refFromUnixNano(ns int64) Timestamp {
	x := new(big.Int).Add(big.NewInt(ns), new(big.Int).Mul(big.NewInt(unixToNTP), big.NewInt(1e9)))
	x.Lsh(x, 33)              // 2 * 2^32 * x
	x.Add(x, big.NewInt(1e9)) // + 1e9 to round half up
	x.Div(x, big.NewInt(2e9)) // Euclidean: floor for a positive divisor
	x.Mod(x, new(big.Int).Lsh(big.NewInt(1), 64))
	return Timestamp(x.Uint64())
}

// refUnixNano is an independent reference for UnixNano: the full seconds S
// congruent to the timestamp's seconds modulo 2^32 with S - pivot's NTP
// seconds in [-2^31, 2^31), then round((S*2^32 + frac) * 1e9 / 2^32) minus
// the NTP-POSIX offset, and saturated to int64.
func refUnixNano(ts Timestamp, pivot int64) int64 {
	p := new(big.Int).Div(big.NewInt(pivot), big.NewInt(1e9)) // floor
	p.Add(p, big.NewInt(unixToNTP))
	two32 := new(big.Int).Lsh(big.NewInt(1), 32)
	// d = (sec - p) mod 2^32, shifted into [-2^31, 2^31)
	d := new(big.Int).Sub(big.NewInt(int64(ts.Seconds())), p)
	d.Mod(d, two32)
	if d.Cmp(new(big.Int).Lsh(big.NewInt(1), 31)) >= 0 {
		d.Sub(d, two32)
	}
	s := new(big.Int).Add(p, d)
	x := new(big.Int).Mul(s, two32)
	x.Add(x, big.NewInt(int64(ts.Fraction())))
	x.Mul(x, big.NewInt(1e9))
	x.Add(x, new(big.Int).Lsh(big.NewInt(1), 31))
	x.Div(x, two32)
	x.Sub(x, new(big.Int).Mul(big.NewInt(unixToNTP), big.NewInt(1e9)))
	switch {
	case x.Cmp(big.NewInt(math.MaxInt64)) > 0:
		return math.MaxInt64
	case x.Cmp(big.NewInt(math.MinInt64)) < 0:
		return math.MinInt64
	}
	return x.Int64()
}

func TestTimestampKnownInstants(t *testing.T) {
	for _, c := range []struct {
		when       time.Time
		sec, frac  uint32
		pivotShift time.Duration // pivot = when + pivotShift
	}{
		{time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), 0, 0, 0},
		{time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), 2208988800, 0, 0},
		{time.Date(1970, 1, 1, 0, 0, 0, 500_000_000, time.UTC), 2208988800, 1 << 31, 0},
		{time.Date(2016, 12, 31, 23, 59, 59, 250_000_000, time.UTC), 3692217599, 1 << 30, 0},
		{era1.Add(-time.Second), math.MaxUint32, 0, 0},
		{era1.Add(-time.Second), math.MaxUint32, 0, time.Second}, // pivot in era 1
		{era1.Add(-time.Second), math.MaxUint32, 0, 50 * 365 * 24 * time.Hour},
		{era1, 0, 0, 0},
		{era1, 0, 0, -time.Second}, // pivot in era 0
		{era1, 0, 0, -60 * 365 * 24 * time.Hour},
		{era1.Add(time.Nanosecond), 0, 4, 0}, // 1 ns = 4.29 units
		{time.Date(2036, 2, 7, 6, 28, 17, 0, time.UTC), 1, 0, 0},
		{time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), uint32(4102444800 + unixToNTP - 1<<32), 0, 0},
		{time.Date(2200, 3, 1, 12, 0, 0, 0, time.UTC), 882313408, 0, 0},
		{time.Date(1899, 12, 31, 23, 59, 59, 0, time.UTC), math.MaxUint32, 0, 0},
		{time.Date(1800, 6, 1, 0, 0, 0, 0, time.UTC), 1152340096, 0, 0},
	} {
		ts := TimestampFromTime(c.when)
		if ts.Seconds() != c.sec || ts.Fraction() != c.frac {
			t.Errorf("TimestampFromTime(%s) = %#x.%#x, want %#x.%#x", c.when, ts.Seconds(), ts.Fraction(), c.sec, c.frac)
		}
		if c.when.Year() >= 1678 && c.when.Year() < 2262 {
			if got := TimestampFromUnixNano(c.when.UnixNano()); got != ts {
				t.Errorf("TimestampFromUnixNano(%s) = %#x, want %#x", c.when, got, ts)
			}
			if got := ts.UnixNano(c.when.Add(c.pivotShift).UnixNano()); got != c.when.UnixNano() {
				t.Errorf("%#x.UnixNano(pivot %s) = %s, want %s", ts, c.when.Add(c.pivotShift),
					time.Unix(0, got).UTC(), c.when)
			}
		}
		if got := ts.Time(c.when.Add(c.pivotShift)); !got.Equal(c.when) {
			t.Errorf("%#x.Time(pivot %s) = %s, want %s", ts, c.when.Add(c.pivotShift), got, c.when)
		}
	}
}

// TestTimestampEraChoice checks that the era is the one nearest the pivot, on
// both sides of the 2036 rollover and of 1900.
func TestTimestampEraChoice(t *testing.T) {
	const year = 365 * 24 * time.Hour
	for _, c := range []struct {
		ts    Timestamp
		pivot time.Time
		want  time.Time
	}{
		// Seconds 0 read near 2036 is the rollover, near 1900 is 1900.
		{0, era1.Add(10 * year), era1},
		{0, time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)},
		// Seconds 1<<31 is 1968-01-20T03:14:08Z in era 0 and 2104-02-26T09:42:24Z in era 1.
		{MakeTimestamp(1<<31, 0), time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1968, 1, 20, 3, 14, 8, 0, time.UTC)},
		{MakeTimestamp(1<<31, 0), time.Date(2090, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2104, 2, 26, 9, 42, 24, 0, time.UTC)},
		// A timestamp of 2035 read in 2037 stays in era 0 and vice versa.
		{TimestampFromTime(time.Date(2035, 6, 1, 0, 0, 0, 0, time.UTC)), time.Date(2037, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2035, 6, 1, 0, 0, 0, 0, time.UTC)},
		{TimestampFromTime(time.Date(2037, 1, 1, 0, 0, 0, 0, time.UTC)), time.Date(2035, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2037, 1, 1, 0, 0, 0, 0, time.UTC)},
		// Era -1: a 1899 timestamp read from 1910.
		{TimestampFromTime(time.Date(1899, 7, 1, 0, 0, 0, 0, time.UTC)), time.Date(1910, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1899, 7, 1, 0, 0, 0, 0, time.UTC)},
		// Far eras through time.Time: year 2500 is era 4, year 1000 era -7.
		{TimestampFromTime(time.Date(2500, 1, 1, 0, 0, 0, 7, time.UTC)), time.Date(2490, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2500, 1, 1, 0, 0, 0, 7, time.UTC)},
		{TimestampFromTime(time.Date(1000, 1, 1, 0, 0, 0, 999_999_999, time.UTC)), time.Date(1001, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1000, 1, 1, 0, 0, 0, 999_999_999, time.UTC)},
	} {
		if got := c.ts.Time(c.pivot); !got.Equal(c.want) {
			t.Errorf("%#x.Time(%s) = %s, want %s", c.ts, c.pivot, got, c.want)
		}
		if c.want.Year() > 1678 && c.want.Year() < 2262 && c.pivot.Year() > 1678 && c.pivot.Year() < 2262 {
			if got := c.ts.UnixNano(c.pivot.UnixNano()); got != c.want.UnixNano() {
				t.Errorf("%#x.UnixNano(%s) = %d, want %d", c.ts, c.pivot, got, c.want.UnixNano())
			}
		}
	}
}

// TestTimestampFractionsExhaustive runs every nanosecond of the first and
// last 3 ms of a second, and a million random ones, through both directions
// and against the arbitrary-precision reference, in four eras.
func TestTimestampFractionsExhaustive(t *testing.T) {
	bases := []int64{0, era1.Unix(), -unixToNTP - 1, 4102444800} // 1970, 2036, 1899, 2100
	r := rand.New(rand.NewPCG(1, 2))
	nsecs := make([]int64, 0, 7_000_000)
	for n := range int64(3_000_000) {
		nsecs = append(nsecs, n, nsPerSec-1-n)
	}
	for range 1_000_000 {
		nsecs = append(nsecs, r.Int64N(nsPerSec))
	}
	short := testing.Short()
	for _, base := range bases {
		for i, nsec := range nsecs {
			ns := base*nsPerSec + nsec
			ts := TimestampFromUnixNano(ns)
			if got := ts.UnixNano(ns); got != ns {
				t.Fatalf("round trip of %d: got %d (ts %#x)", ns, got, ts)
			}
			if !short && i%97 == 0 { // the big-number reference is slow: sample it
				if want := refFromUnixNano(ns); ts != want {
					t.Fatalf("TimestampFromUnixNano(%d) = %#x, reference %#x", ns, ts, want)
				}
			}
		}
	}
}

// TestTimestampRandomAgainstReference compares both directions with the
// arbitrary-precision reference over the whole int64 range, pivots anywhere
// (saturating results included).
func TestTimestampRandomAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 200_000 {
		ns := int64(r.Uint64())
		if want := refFromUnixNano(ns); TimestampFromUnixNano(ns) != want {
			t.Fatalf("TimestampFromUnixNano(%d) = %#x, reference %#x", ns, TimestampFromUnixNano(ns), want)
		}
		ts := Timestamp(r.Uint64())
		pivot := int64(r.Uint64())
		if i%4 == 0 { // pivots near the ends of int64, to exercise saturation
			pivot = math.MaxInt64 - r.Int64N(1<<62)
			if i%8 == 0 {
				pivot = math.MinInt64 + r.Int64N(1<<62)
			}
		}
		if got, want := ts.UnixNano(pivot), refUnixNano(ts, pivot); got != want {
			t.Fatalf("%#x.UnixNano(%d) = %d, reference %d", ts, pivot, got, want)
		}
	}
	for _, pivot := range []int64{math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1} {
		for _, ts := range []Timestamp{0, math.MaxUint64, 1 << 63, TimestampFromUnixNano(pivot)} {
			if got, want := ts.UnixNano(pivot), refUnixNano(ts, pivot); got != want {
				t.Errorf("%#x.UnixNano(%d) = %d, reference %d", ts, pivot, got, want)
			}
		}
	}
	if got := TimestampFromUnixNano(math.MaxInt64).UnixNano(math.MaxInt64); got != math.MaxInt64 {
		t.Errorf("MaxInt64 round trip: %d", got)
	}
	if got := TimestampFromUnixNano(math.MinInt64).UnixNano(math.MinInt64); got != math.MinInt64 {
		t.Errorf("MinInt64 round trip: %d", got)
	}
}

// TestTimestampRoundTripAcrossPivots: any instant read back with a pivot up to
// 68 years away on either side comes back to the nanosecond.
func TestTimestampRoundTripAcrossPivots(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const maxGap = (1<<31 - 2) * nsPerSec
	for range 500_000 {
		// any instant whose pivots stay within int64 (1678 to 2262 less 68 years)
		ns := math.MinInt64 + maxGap + int64(r.Uint64N(math.MaxUint64-2*maxGap)) // wraps into range
		pivot := ns + r.Int64N(2*maxGap) - maxGap
		if got := TimestampFromUnixNano(ns).UnixNano(pivot); got != ns {
			t.Fatalf("%d read with pivot %d gave %d", ns, pivot, got)
		}
		tm := time.Unix(0, ns)
		if got := TimestampFromTime(tm).Time(time.Unix(0, pivot)); !got.Equal(tm) {
			t.Fatalf("%s read with pivot %s gave %s", tm, time.Unix(0, pivot), got)
		}
	}
	// time.Time reaches far beyond int64 nanoseconds.
	for range 100_000 {
		sec := r.Int64N(400_000_000_000) - 200_000_000_000 // about ±6000 years
		tm := time.Unix(sec, r.Int64N(nsPerSec))
		pivot := tm.Add(time.Duration(r.Int64N(2*maxGap) - maxGap))
		if got := TimestampFromTime(tm).Time(pivot); !got.Equal(tm) {
			t.Fatalf("%s read with pivot %s gave %s", tm, pivot, got)
		}
	}
}

// TestTimestampToNanoAndBack: timestamp -> ns -> timestamp moves by at most
// the rounding of both directions (0.5 ns + 0.5 unit, under 3 units).
func TestTimestampToNanoAndBack(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for range 1_000_000 {
		ts := Timestamp(r.Uint64())
		back := TimestampFromUnixNano(ts.UnixNano(0))
		if d := int64(back - ts); d < -2 || d > 2 {
			t.Fatalf("%#x -> %#x: %d units apart", ts, back, d)
		}
	}
}

func TestTimestampSubAdd(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	const maxGap = (1<<31 - 2) * nsPerSec
	for range 500_000 {
		a := r.Int64N(1<<62) - 1<<61
		d := r.Int64N(2*maxGap) - maxGap
		b := a + d
		ta, tb := TimestampFromUnixNano(a), TimestampFromUnixNano(b)
		// both ends are rounded by up to half a unit: one nanosecond of slack
		if got := tb.Sub(ta); got < time.Duration(d-1) || got > time.Duration(d+1) {
			t.Fatalf("Sub(%d - %d) = %d, want %d±1", b, a, got, d)
		}
		if got := ta.Add(time.Duration(d)); int64(got-tb) < -1 || int64(got-tb) > 1 {
			t.Fatalf("%#x.Add(%d) = %#x, want %#x±1", ta, d, got, tb)
		}
	}
	// Across the rollover: one second after the last second of era 0.
	if got := MakeTimestamp(0, 0).Sub(MakeTimestamp(math.MaxUint32, 0)); got != time.Second {
		t.Errorf("rollover Sub = %s, want 1s", got)
	}
	if got := MakeTimestamp(math.MaxUint32, 1<<31).Add(time.Second); got != MakeTimestamp(0, 1<<31) {
		t.Errorf("rollover Add = %#x", got)
	}
	if got := MakeTimestamp(5, 0).Add(-6 * time.Second); got != MakeTimestamp(math.MaxUint32, 0) {
		t.Errorf("negative Add = %#x", got)
	}
}

func TestShort(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want Short
	}{
		{0, 0},
		{-time.Second, 0},
		{math.MinInt64, 0},
		{time.Second, 1 << 16},
		{500 * time.Millisecond, 1 << 15},
		{7629, 0},  // below half a unit (7629.39 ns)
		{7630, 1},  // above half a unit
		{15258, 1}, // 15258.79 ns is one unit
		{65535 * time.Second, 65535 << 16},
		{MaxShort, math.MaxUint32},
		{MaxShort - 7629, math.MaxUint32},
		{65536 * time.Second, math.MaxUint32},
		{math.MaxInt64, math.MaxUint32},
	} {
		if got := ShortFromDuration(c.d); got != c.want {
			t.Errorf("ShortFromDuration(%d) = %#x, want %#x", c.d, got, c.want)
		}
	}
	if got := Short(math.MaxUint32).Duration(); got != MaxShort {
		t.Errorf("max Short = %d, want %d", got, MaxShort)
	}
	r := rand.New(rand.NewPCG(11, 12))
	for range 1_000_000 {
		s := Short(r.Uint32())
		if back := ShortFromDuration(s.Duration()); back != s {
			t.Fatalf("Short %#x -> %d -> %#x", s, s.Duration(), back)
		}
		d := time.Duration(r.Int64N(int64(MaxShort)))
		// within half a unit: 2^-17 s = 7629.39 ns
		if got := ShortFromDuration(d).Duration(); got-d > 7630 || d-got > 7630 {
			t.Fatalf("%d -> %#x -> %d", d, ShortFromDuration(d), got)
		}
	}
}

func TestTimestampNoAllocation(t *testing.T) {
	now := time.Date(2036, 2, 7, 6, 28, 16, 123, time.UTC)
	var sink Timestamp
	var sinkT time.Time
	var sinkN int64
	allocs := testing.AllocsPerRun(1000, func() {
		sink = TimestampFromTime(now)
		sinkT = sink.Time(now)
		sinkN = sink.UnixNano(now.UnixNano())
		sink = TimestampFromUnixNano(sinkN)
		sink = sink.Add(sink.Sub(sink))
	})
	if allocs != 0 {
		t.Errorf("timestamp conversions allocate %v times", allocs)
	}
	_, _ = sinkT, sink
}
