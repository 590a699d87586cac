package client

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"

	beevik "github.com/beevik/ntp"

	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/ntp"
)

// within reports whether a and b differ by at most tol.
func within(a, b, tol time.Duration) bool { return a-b <= tol && b-a <= tol }

// TestCrossCheckBeevik queries a fake server whose header fields are random
// with github.com/beevik/ntp, an independent implementation, and checks that
// our decoding of the same reply bytes agrees field by field; then our client
// and beevik's measure the same offset. The fake server also decodes
// beevik's request with our package.
func TestCrossCheckBeevik(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	var mu sync.Mutex
	var want ntp.Header // the fields of the next reply, minus timestamps
	var offset time.Duration
	var requests []ntp.Header
	f := newFake(t, "udp4", "127.0.0.1", func(f *fake, req ntp.Header, raw []byte, from netip.AddrPort) {
		mu.Lock()
		defer mu.Unlock()
		requests = append(requests, req)
		h := goodReply(req, offset)
		h.Leap, h.Stratum, h.Poll, h.Precision = want.Leap, want.Stratum, want.Poll, want.Precision
		h.RootDelay, h.RootDispersion, h.ReferenceID = want.RootDelay, want.RootDispersion, want.ReferenceID
		h.Reference = want.Reference
		f.send(from, encode(f.t, h))
	})
	for i := range 200 {
		mu.Lock()
		want = ntp.Header{
			Leap: uint8(r.IntN(3)), Stratum: uint8(1 + r.IntN(15)), Poll: int8(r.IntN(18)),
			Precision:      int8(-r.IntN(30)),
			RootDelay:      ntp.Short(r.Uint32()),
			RootDispersion: ntp.Short(r.Uint32()),
			ReferenceID:    r.Uint32(),
			Reference:      ntp.TimestampFromTime(time.Now().Add(-time.Duration(r.Int64N(int64(24 * time.Hour))))),
		}
		offset = time.Duration(r.Int64N(int64(2*time.Hour))) - time.Hour
		mu.Unlock()

		b, err := beevik.QueryWithOptions(f.addr, beevik.QueryOptions{Timeout: 2 * time.Second})
		if err != nil {
			t.Fatalf("beevik query %d: %v", i, err)
		}
		var h ntp.Header
		if err := h.Decode(f.lastSent()); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		switch {
		case int(h.Stratum) != int(b.Stratum) || h.ReferenceID != b.ReferenceID || int(h.Leap) != int(b.Leap) ||
			int(h.Version) != b.Version:
			t.Fatalf("reply %d: ours %+v, beevik stratum %d refid %#x leap %d version %d",
				i, h, b.Stratum, b.ReferenceID, b.Leap, b.Version)
		case !within(h.RootDelay.Duration(), b.RootDelay, 1) || !within(h.RootDispersion.Duration(), b.RootDispersion, 1):
			t.Fatalf("reply %d: root delay %d/%d dispersion %d/%d", i,
				h.RootDelay.Duration(), b.RootDelay, h.RootDispersion.Duration(), b.RootDispersion)
		case !within(ntp.PrecisionDuration(h.Precision), b.Precision, 1) || !within(ntp.PrecisionDuration(h.Poll), b.Poll, 1):
			t.Fatalf("reply %d: precision %d: %s/%s, poll %d: %s/%s", i, h.Precision,
				ntp.PrecisionDuration(h.Precision), b.Precision, h.Poll, ntp.PrecisionDuration(h.Poll), b.Poll)
		case !h.Reference.Time(now).Equal(b.ReferenceTime) || !h.Transmit.Time(now).Equal(b.Timestamps.ServerXmit) ||
			!h.Receive.Time(now).Equal(b.Timestamps.ServerRecv):
			t.Fatalf("reply %d: timestamps ours %s %s %s, beevik %s %s %s", i,
				h.Reference.Time(now), h.Receive.Time(now), h.Transmit.Time(now),
				b.ReferenceTime, b.Timestamps.ServerRecv, b.Timestamps.ServerXmit)
		}

		ours, err := Query(context.Background(), f.addr, Options{Timeout: 2 * time.Second})
		if err != nil {
			t.Fatalf("our query %d: %v", i, err)
		}
		// Each offset is off the server's by at most half its round trip.
		if !ntptest.OffsetWithin(ours.Offset, b.ClockOffset, ours.Delay+b.RTT) || !ntptest.OffsetWithin(ours.Offset, offset, ours.Delay) {
			t.Fatalf("query %d: offset ours %s, beevik %s, server set %s", i, ours.Offset, b.ClockOffset, offset)
		}
		if ours.Header.Stratum != h.Stratum || ours.Header.ReferenceID != h.ReferenceID || ours.Header.Leap != h.Leap {
			t.Fatalf("query %d: our client decoded %+v, want %+v", i, ours.Header, h)
		}
	}
	// beevik's requests decode with our package as NTPv4 client requests.
	mu.Lock()
	defer mu.Unlock()
	for i, req := range requests {
		if req.Mode != ntp.ModeClient || req.Version != 4 || req.Transmit == 0 {
			t.Fatalf("request %d: %+v", i, req)
		}
	}
}

// TestCrossCheckBeevikKiss: a KoD decodes to the same code in both.
func TestCrossCheckBeevikKiss(t *testing.T) {
	f := newFake(t, "udp4", "127.0.0.1", replyWith(0, func(h *ntp.Header) {
		h.Stratum, h.ReferenceID = 0, ntp.KissRSTR
	}))
	b, err := beevik.QueryWithOptions(f.addr, beevik.QueryOptions{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var h ntp.Header
	_ = h.Decode(f.lastSent())
	if !b.IsKissOfDeath() || !h.IsKiss() || b.KissCode != ntp.KissCode(h.ReferenceID) {
		t.Errorf("beevik kiss %v %q, ours %v %q", b.IsKissOfDeath(), b.KissCode, h.IsKiss(), ntp.KissCode(h.ReferenceID))
	}
}
