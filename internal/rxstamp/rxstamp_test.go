package rxstamp

import (
	"testing"
	"time"
)

func TestAge(t *testing.T) {
	const now = int64(1_700_000_000_000_000_000)
	for _, c := range []struct {
		rx   int64
		want time.Duration
		ok   bool
	}{
		{now, 0, true},
		{now - 137_000, 137 * time.Microsecond, true},
		{now - int64(MaxAge), MaxAge, true},
		{now - int64(MaxAge) - 1, MaxAge + 1, false}, // stale, or across a step
		{now + 1, -1, false},                         // after now: the clock went back
	} {
		if got, ok := Age(c.rx, now); got != c.want || ok != c.ok {
			t.Errorf("Age(now%+d) = %v, %v, want %v, %v", c.rx-now, got, ok, c.want, c.ok)
		}
	}
}
