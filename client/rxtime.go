package client

import (
	"time"

	"github.com/leapsmear/leapsmear/internal/rxstamp"
)

// kernelT4 reads the local clock and moves it back by the age of the
// datagram whose control messages are oob. The age is measured on the
// realtime clock read just before and just after the local clock, so that a
// pause between the two readings cannot skew it; a pair of readings too far
// apart is taken again, a few times at most.
func (c *Client) kernelT4(oob []byte) time.Time {
	var t4 time.Time
	for range 4 {
		before := time.Now()
		t4 = c.opt.LocalClock()
		after := time.Now()
		gap := after.Sub(before)
		if age := rxAge(oob, before.Add(gap/2)); age > 0 && gap < 20*time.Microsecond {
			return t4.Add(-age)
		}
	}
	return t4
}

// rxAge returns how long before now (read from the realtime clock) the
// datagram whose control messages are oob was received, or 0 when oob holds
// no timestamp or one that cannot be right (in the future, or older than
// rxstamp.MaxAge).
func rxAge(oob []byte, now time.Time) time.Duration {
	rx, ok := rxstamp.Find(oob)
	if !ok {
		return 0
	}
	if age, ok := rxstamp.Age(rx, now.UnixNano()); ok {
		return age
	}
	return 0
}
