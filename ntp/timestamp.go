package ntp

import (
	"math"
	"time"
)

// Timestamp is a 64-bit NTP timestamp: 32 bits of seconds and 32 bits of
// fraction of a second, counted from the start of its era. Era 0 starts at
// 1900-01-01T00:00:00Z and era 1 at 2036-02-07T06:28:16Z; the era itself is
// not on the wire, so converting back to an instant needs a pivot (see
// Timestamp.UnixNano and Timestamp.Time).
type Timestamp uint64

// Short is a 32-bit NTP short value: 16 bits of seconds and 16 bits of
// fraction, used for the root delay and root dispersion.
type Short uint32

// unixToNTP is the number of seconds from the NTP epoch (1900-01-01) to the
// POSIX epoch (1970-01-01).
const unixToNTP = 2208988800

const nsPerSec = 1_000_000_000

// MakeTimestamp returns the timestamp with the given era seconds and fraction.
func MakeTimestamp(sec, frac uint32) Timestamp { return Timestamp(uint64(sec)<<32 | uint64(frac)) }

// Seconds returns the whole seconds of the timestamp within its era.
func (ts Timestamp) Seconds() uint32 { return uint32(ts >> 32) }

// Fraction returns the fraction of a second, in units of 2^-32 s.
func (ts Timestamp) Fraction() uint32 { return uint32(ts) }

// fromSecNsec builds a timestamp from POSIX seconds and nanoseconds in
// [0, 1e9), rounding the fraction to the nearest 2^-32 s. The seconds fold
// into the era by wrapping modulo 2^32.
func fromSecNsec(sec int64, nsec int64) Timestamp {
	// nsec < 2^30, so nsec<<32 < 2^62 does not overflow; the rounded result
	// is at most 2^32-4 (no carry into the seconds).
	frac := (uint64(nsec)<<32 + nsPerSec/2) / nsPerSec
	return Timestamp(uint64(sec+unixToNTP)<<32 + frac)
}

// fracToNanos converts a 32-bit fraction to nanoseconds, rounding to nearest.
// The result is in [0, 1e9]: the largest fractions round up to a full second.
func fracToNanos(frac uint32) int64 {
	return int64((uint64(frac)*nsPerSec + 1<<31) >> 32)
}

// TimestampFromUnixNano returns the NTP timestamp of the instant ns
// nanoseconds after 1970-01-01T00:00:00Z, rounded to the nearest 2^-32 s.
// Instants of every era fold onto the same 64 bits.
func TimestampFromUnixNano(ns int64) Timestamp {
	sec, nsec := ns/nsPerSec, ns%nsPerSec
	if nsec < 0 {
		sec, nsec = sec-1, nsec+nsPerSec
	}
	return fromSecNsec(sec, nsec)
}

// TimestampFromTime returns the NTP timestamp of t, rounded to the nearest
// 2^-32 s. Any instant time.Time can hold is accepted; the era is dropped.
func TimestampFromTime(t time.Time) Timestamp {
	return fromSecNsec(t.Unix(), int64(t.Nanosecond()))
}

// eraDelta returns how many seconds the instant of ts lies after pivotUnix (a
// POSIX second), choosing the era that puts the timestamp's seconds nearest
// to the pivot: the result is in [-2^31, 2^31).
func (ts Timestamp) eraDelta(pivotUnix int64) int64 {
	return int64(int32(ts.Seconds() - uint32(pivotUnix+unixToNTP)))
}

// UnixNano returns the instant of ts in nanoseconds since the POSIX epoch,
// taking the era whose instant lies nearest to pivot (also nanoseconds since
// the POSIX epoch): a result is within about 68 years of pivot. The fraction is
// rounded to the nearest nanosecond, so UnixNano inverts TimestampFromUnixNano
// exactly. Instants outside the range of int64 saturate.
func (ts Timestamp) UnixNano(pivot int64) int64 {
	pivotSec := pivot / nsPerSec
	if pivot%nsPerSec < 0 {
		pivotSec--
	}
	sec := pivotSec + ts.eraDelta(pivotSec)
	frac := fracToNanos(ts.Fraction())
	// The last whole seconds of int64 nanoseconds, and what nanoseconds
	// still fit beyond them: 854775807 after maxSec, and for the second
	// starting before minSec, 1e9-854775808.
	const maxSec, minSec = math.MaxInt64 / nsPerSec, math.MinInt64 / nsPerSec
	switch {
	case sec > maxSec || sec == maxSec && frac > math.MaxInt64%nsPerSec:
		return math.MaxInt64
	case sec < minSec-1 || sec == minSec-1 && frac < nsPerSec+math.MinInt64%nsPerSec:
		return math.MinInt64
	}
	// At sec = minSec-1 the product wraps, but the sum is in range and
	// two's complement arithmetic brings it back exactly.
	return sec*nsPerSec + frac
}

// Time returns the instant of ts in UTC, taking the era whose instant lies
// nearest to pivot (within about 68 years). The fraction is rounded to the
// nearest nanosecond, so Time inverts TimestampFromTime exactly.
func (ts Timestamp) Time(pivot time.Time) time.Time {
	sec := pivot.Unix() + ts.eraDelta(pivot.Unix())
	return time.Unix(sec, fracToNanos(ts.Fraction())).UTC()
}

// Sub returns ts-u as a duration, reading both in the same era and taking the
// shorter way round: the result is within about ±68 years (never saturates).
// It is rounded to the nearest nanosecond.
func (ts Timestamp) Sub(u Timestamp) time.Duration {
	d := int64(ts - u) // signed 32.32 difference
	return time.Duration((d>>32)*nsPerSec + fracToNanos(uint32(d)))
}

// Add returns ts+d, rounded to the nearest 2^-32 s, wrapping within the era.
func (ts Timestamp) Add(d time.Duration) Timestamp {
	sec, nsec := int64(d)/nsPerSec, int64(d)%nsPerSec
	if nsec < 0 {
		sec, nsec = sec-1, nsec+nsPerSec
	}
	return ts + fromSecNsec(sec-unixToNTP, nsec)
}

// MaxShort is the largest duration a Short holds, rounded down to a nanosecond:
// (2^32-1)/2^16 s.
const MaxShort = time.Duration((math.MaxUint32 * nsPerSec) >> 16)

// ShortFromDuration returns d in NTP short format, rounded to the nearest
// 2^-16 s. Negative durations give 0 and durations from about 65536 s up give
// the largest value.
func ShortFromDuration(d time.Duration) Short {
	switch {
	case d <= 0:
		return 0
	case d >= MaxShort:
		return math.MaxUint32
	}
	// d < 2^46 ns, so d<<16 < 2^62 does not overflow.
	v := (uint64(d)<<16 + nsPerSec/2) / nsPerSec
	if v > math.MaxUint32 {
		return math.MaxUint32
	}
	return Short(v)
}

// Duration returns s as a duration, rounded to the nearest nanosecond.
func (s Short) Duration() time.Duration {
	return time.Duration((uint64(s)*nsPerSec + 1<<15) >> 16)
}
