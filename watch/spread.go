package watch

import (
	"math"
	"slices"
	"time"

	"github.com/leapsmear/leapsmear/smear"
)

// DefaultDelayMargin is the excess delay up to which a sample is compared
// in the fleet spread (see SpreadOptions).
const DefaultDelayMargin = 50 * time.Microsecond

// SpreadOptions tune Align and Spread.
type SpreadOptions struct {
	// DelayMargin: a sample's offset may be wrong by up to half of its delay
	// beyond the least delay seen from its server (a queue on one path), so
	// only samples whose excess delay is at most the margin are compared.
	// The margin of a server is the larger of this (0 means
	// DefaultDelayMargin) and the median excess delay of its samples, so
	// that at least half of them count on a path with more jitter.
	DelayMargin time.Duration
}

// Aligned is one server's offset at the common instant of a round.
type Aligned struct {
	Offset time.Duration
	// OK is false when the server is not compared in this round: it did not
	// answer, its delay was beyond its margin, or it stepped next to the
	// round's instant (before or after it: which one is unknown).
	OK bool
}

// Alignment is every round's offsets brought to one instant per round.
type Alignment struct {
	// At[k] is round k's common instant: the reference server's (the first)
	// sample, or the round's start when it did not answer.
	At []time.Time
	// Offsets[k][i] is server i's offset from the local clock at At[k].
	Offsets [][]Aligned
	// Margins[i] is the excess delay allowed for server i.
	Margins []time.Duration
}

// maxSlope is a change of offset faster than any smear: a step.
const maxSlope = smear.MaxRatePPM / 1e6

// maxReach is how many rounds away Align looks for a compared sample to
// draw a server's line through.
const maxReach = 4

// slopeBetween returns the rate of change of the offset from a to b.
func slopeBetween(a, b Sample) float64 {
	return float64(b.Offset-a.Offset) / float64(b.At.Sub(a.At))
}

// Align brings the samples of every round to one instant, so that servers
// polled a few hundred microseconds apart can be compared while smearing at
// thousands of ppm: each server's offset is moved from its sample's instant
// to the round's along the line through its nearest compared samples on
// either side (or on one side, where the other is missing or a step), which
// is exact for a linear or quadratic stretch and off by at most half the
// rate times the distance moved at the corner of a linear window. A server
// whose sample is separated from the round's instant by a step is not
// compared in that round.
// Servers are compared through offsets from the same local clock read
// within the same round, so the local clock's own error cancels out.
func Align(rec *Record, opt SpreadOptions) Alignment {
	margin := opt.DelayMargin
	if margin <= 0 {
		margin = DefaultDelayMargin
	}
	n := len(rec.Servers)
	al := Alignment{At: make([]time.Time, len(rec.Rounds)), Offsets: make([][]Aligned, len(rec.Rounds)), Margins: make([]time.Duration, n)}
	least := make([]time.Duration, n)
	for i := range n {
		var delays []time.Duration
		for _, rd := range rec.Rounds {
			if s := rd.Samples[i]; s.Answered {
				delays = append(delays, s.Delay)
			}
		}
		if len(delays) == 0 {
			continue
		}
		slices.Sort(delays)
		least[i] = delays[0]
		al.Margins[i] = max(margin, delays[(len(delays)-1)/2]-delays[0])
	}
	clean := func(k, i int) bool {
		if k < 0 || k >= len(rec.Rounds) {
			return false
		}
		s := rec.Rounds[k].Samples[i]
		return s.Answered && s.Delay-least[i] <= al.Margins[i]
	}
	for k, rd := range rec.Rounds {
		at := rd.At
		if s := rd.Samples[0]; s.Answered {
			at = s.At
		}
		al.At[k] = at
		al.Offsets[k] = make([]Aligned, n)
		for i := range n {
			if !clean(k, i) {
				continue
			}
			s := rd.Samples[i]
			if at.Equal(s.At) {
				al.Offsets[k][i] = Aligned{OK: true, Offset: s.Offset}
				continue
			}
			// The slope through the nearest compared samples either side.
			left, right := k-1, k+1
			for left >= 0 && left > k-maxReach && !clean(left, i) {
				left--
			}
			for right < len(rec.Rounds) && right < k+maxReach && !clean(right, i) {
				right++
			}
			okL, okR := clean(left, i), clean(right, i)
			var slopeL, slopeR float64
			if okL {
				slopeL = slopeBetween(rec.Rounds[left].Samples[i], s)
			}
			if okR {
				slopeR = slopeBetween(s, rec.Rounds[right].Samples[i])
			}
			jumpL, jumpR := okL && math.Abs(slopeL) > maxSlope, okR && math.Abs(slopeR) > maxSlope
			var rate float64
			switch before := at.Before(s.At); {
			case before && jumpL, !before && jumpR:
				continue // a step between the sample and the instant, perhaps
			case okL && okR && !jumpL && !jumpR:
				rate = slopeBetween(rec.Rounds[left].Samples[i], rec.Rounds[right].Samples[i])
			case okL && !jumpL:
				rate = slopeL
			case okR && !jumpR:
				rate = slopeR
			default:
				continue // nothing to draw the line with
			}
			al.Offsets[k][i] = Aligned{OK: true, Offset: s.Offset + time.Duration(rate*float64(at.Sub(s.At)))}
		}
	}
	return al
}

// Relative returns server i's aligned offset minus the reference's (server
// 0) at round k, and whether both were compared.
func (al Alignment) Relative(k, i int) (time.Duration, bool) {
	a, ref := al.Offsets[k][i], al.Offsets[k][0]
	return a.Offset - ref.Offset, a.OK && ref.OK
}

// SpreadResult is the fleet spread: how far apart the servers were.
type SpreadResult struct {
	// Max is the largest difference between two servers at the same
	// instant, over every round; At is that round's instant and A, B the
	// indices of the two servers (A < B).
	Max  time.Duration
	At   time.Time
	A, B int
	// Rounds is how many rounds compared at least two servers.
	Rounds int
}

// Spread returns the fleet spread of an alignment.
func (al Alignment) Spread() SpreadResult {
	var r SpreadResult
	for k, row := range al.Offsets {
		if countOK(row) < 2 {
			continue
		}
		lo, hi := -1, -1
		for i, a := range row {
			if !a.OK {
				continue
			}
			if lo < 0 || a.Offset < row[lo].Offset {
				lo = i
			}
			if hi < 0 || a.Offset >= row[hi].Offset {
				hi = i
			}
		}
		r.Rounds++
		if d := row[hi].Offset - row[lo].Offset; d > r.Max || r.Rounds == 1 {
			r.Max, r.At, r.A, r.B = d, al.At[k], min(lo, hi), max(lo, hi)
		}
	}
	return r
}

func countOK(row []Aligned) int {
	n := 0
	for _, a := range row {
		if a.OK {
			n++
		}
	}
	return n
}
