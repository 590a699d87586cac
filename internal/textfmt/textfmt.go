// Package textfmt formats durations and instants the one way the commands
// print them: seconds with all nine decimals, from the integer nanoseconds,
// and RFC 3339 instants in UTC with all nine digits of the nanoseconds.
package textfmt

import (
	"fmt"
	"time"
)

// TimeLayout is RFC 3339 with all nine digits of the nanoseconds.
const TimeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// Time renders t in UTC with TimeLayout, or "" for the zero time.
func Time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeLayout)
}

// Seconds renders d in seconds with nine decimals, from the integer
// nanoseconds: "0.000012345", or "+0.000012345" when signed.
func Seconds(d time.Duration, signed bool) string {
	sign := ""
	abs := uint64(d)
	if d < 0 {
		sign, abs = "-", uint64(-d) // -MinInt64 wraps to itself: its uint64 is still right
	} else if signed {
		sign = "+"
	}
	return fmt.Sprintf("%s%d.%09d", sign, abs/1e9, abs%1e9)
}
