package loadgen

import (
	"math"
	"math/bits"
	"time"
)

// subBits sets the histogram's resolution: 2^subBits buckets per doubling,
// so a bucket is at most 1/32 (about 3%) of its values wide.
const subBits = 5

// maxBucket is the bucket of the largest value recorded; larger values are
// clamped into it. 2^40 ns is about 18 minutes.
var maxBucket = bucketOf(1 << 40)

// Histogram counts durations in fixed log-linear buckets: exact below 64 ns,
// then 32 buckets per doubling. Recording allocates nothing. The zero value
// is empty and ready to use.
type Histogram struct {
	counts [1153]uint64 // bucketOf(1<<40) + 1
	n      uint64
}

// bucketOf returns the bucket of a duration of v nanoseconds.
func bucketOf(v uint64) int {
	if v < 1<<(subBits+1) {
		return int(v)
	}
	e := bits.Len64(v) - subBits - 1 // v>>e is in [32, 64)
	return (e+1)<<subBits + int(v>>e) - 1<<subBits
}

// bucketRange returns the smallest value of bucket i and its width.
func bucketRange(i int) (low, width uint64) {
	if i < 1<<(subBits+1) {
		return uint64(i), 1
	}
	e := uint(i>>subBits) - 1
	m := uint64(i&(1<<subBits-1)) + 1<<subBits
	return m << e, 1 << e
}

// Record counts one duration; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(0)
	if d > 0 {
		v = uint64(d)
	}
	b := bucketOf(v)
	if b > maxBucket {
		b = maxBucket
	}
	h.counts[b]++
	h.n++
}

// Count returns how many durations were recorded.
func (h *Histogram) Count() uint64 { return h.n }

// Merge adds o's counts to h.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// Quantile returns the duration below which a fraction q (0 to 1) of the
// recorded durations fall: the middle of the bucket holding the
// ceil(q*n)-th smallest. It returns 0 for an empty histogram.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(1, min(rank, h.n))
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			low, width := bucketRange(i)
			return time.Duration(low + width/2)
		}
	}
	return 0 // not reached: the counts add up to n
}
