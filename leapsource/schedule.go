package leapsource

import (
	"time"

	"github.com/leapsmear/leapsmear/leapcheck"
)

// Default polling intervals of the periodic check: upstream servers are
// asked rarely, but every minute during the last day of a month, when a
// leap indicator matters most and a source jumping the gun must be caught.
const (
	DefaultInterval        = 15 * time.Minute
	DefaultLastDayInterval = time.Minute
)

// NextCheck returns how long after the instant at the next check is due:
// every interval, but every lastDay during the last UTC day of a month, and
// never later than the start of that day.
func NextCheck(at time.Time, interval, lastDay time.Duration) time.Duration {
	start := leapcheck.EndOfMonth(at, 1).Day
	if !at.Before(start) {
		return lastDay
	}
	if until := start.Sub(at); until < interval {
		return until
	}
	return interval
}
