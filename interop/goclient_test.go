package interop

import (
	"context"
	"testing"
	"time"

	beevik "github.com/beevik/ntp"

	"github.com/leapsmear/leapsmear/client"
	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/ntp"
)

// TestGoClientsReplay2016: github.com/beevik/ntp and our client against the
// binary replaying 2016-12-31T18:00Z with noon-to-noon measure the replay
// shift plus the policy's -0.25 s, and see no leap announced.
func TestGoClientsReplay2016(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--policy", "noon-to-noon", "--time-offset-to", "2016-12-31T18:00:00Z")
	shift := shiftOf(t, s.summary)

	before := time.Now()
	b, err := beevik.QueryWithOptions(s.addr, beevik.QueryOptions{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	p := predict(t, "noon-to-noon", shift, before.Add(time.Since(before)/2))
	if err := b.Validate(); err != nil {
		t.Errorf("beevik rejects the reply: %v", err)
	}
	t.Logf("beevik: offset %v, predicted %v (policy %v), error %v", b.ClockOffset, p.offset, p.policy, b.ClockOffset-p.offset)
	if !within(p.policy, -250*time.Millisecond, time.Millisecond) || !ntptest.OffsetWithin(b.ClockOffset, p.offset, b.RTT) ||
		b.Leap != beevik.LeapNoWarning || b.Stratum != 2 {
		t.Errorf("beevik: offset %v leap %v stratum %d; want %v, no leap, 2", b.ClockOffset, b.Leap, b.Stratum, p.offset)
	}

	before = time.Now()
	r, err := client.Query(context.Background(), s.addr, client.Options{Timeout: 2 * time.Second, Version: 3})
	if err != nil {
		t.Fatal(err)
	}
	p = predict(t, "noon-to-noon", shift, before.Add(time.Since(before)/2))
	if !ntptest.OffsetWithin(r.Offset, p.offset, r.Delay) || r.Header.Version != 3 || r.Header.Leap != ntp.LeapNone {
		t.Errorf("client: offset %v (want %v) header %+v", r.Offset, p.offset, r.Header)
	}
}
