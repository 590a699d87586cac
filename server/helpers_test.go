package server

import (
	"encoding/binary"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/ntp"
	"github.com/leapsmear/leapsmear/timescale"
)

// fakeSource is a clock source whose readings the test sets. Every Now
// advances it by tick afterwards, so that a second reading (the transmit
// time) is told apart from the first (the batch's reading).
type fakeSource struct {
	tai, real atomic.Int64
	tick      int64
	synced    atomic.Bool
}

func newFakeSource(tbl *leap.Table, at time.Time, tick time.Duration) *fakeSource {
	f := &fakeSource{tick: int64(tick)}
	f.set(tbl.TAIFromTime(at), at.UnixNano())
	f.synced.Store(true)
	return f
}

// testClient is the source address of the tests' requests.
var testClient = netip.MustParseAddrPort("127.0.0.1:40123")

// respond answers one request from testClient received at rx (host
// realtime, 0 for none) as a socket answers a batch of one: Begin reads the
// clock, Respond builds the reply, StampReply stamps it.
func respond(r *Responder, req, resp []byte, rx int64) (int, Verdict) {
	b := r.Begin()
	n, v := r.Respond(&b, Request{Data: req, Rx: timescale.Realtime(rx), Source: testClient}, resp)
	if n > 0 {
		StampReply(&b, resp, r.TransmitTAI())
	}
	return n, v
}

func (f *fakeSource) set(tai leap.TAI, real int64) {
	f.tai.Store(int64(tai))
	f.real.Store(real)
}

func (f *fakeSource) Now() timescale.Reading {
	return timescale.Reading{TAI: leap.TAI(f.tai.Add(f.tick) - f.tick), Real: timescale.Realtime(f.real.Add(f.tick) - f.tick)}
}

func (f *fakeSource) Name() string           { return "fake" }
func (f *fakeSource) Synced() bool           { return f.synced.Load() }
func (f *fakeSource) SetTable(*leap.Table)   {}
func (f *fakeSource) Stats() timescale.Stats { return timescale.Stats{Source: "fake"} }
func (f *fakeSource) Close() error           { return nil }

var _ timescale.Source = (*fakeSource)(nil)

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// request encodes a client request with the given first byte fields and
// transmit timestamp, followed by trailer.
func request(t testing.TB, version, mode uint8, poll int8, transmit ntp.Timestamp, trailer []byte) []byte {
	t.Helper()
	h := ntp.Header{Version: version, Mode: mode, Poll: poll, Transmit: transmit}
	b := make([]byte, ntp.HeaderLen, ntp.HeaderLen+len(trailer))
	if err := h.Encode(b); err != nil {
		t.Fatal(err)
	}
	return append(b, trailer...)
}

// extension returns an NTPv4 extension field of n bytes (n >= 16, n%4 == 0).
func extension(typ uint16, n int) []byte {
	b := make([]byte, n)
	binary.BigEndian.PutUint16(b, typ)
	binary.BigEndian.PutUint16(b[2:], uint16(n))
	for i := 4; i < n; i++ {
		b[i] = byte(i)
	}
	return b
}

// mac returns a key ID and digest of n bytes in all.
func mac(n int) []byte {
	b := make([]byte, n)
	b[3] = 7 // key ID 7
	for i := 4; i < n; i++ {
		b[i] = byte(0xa0 + i)
	}
	return b
}

func decode(t testing.TB, b []byte) ntp.Header {
	t.Helper()
	var h ntp.Header
	if err := h.Decode(b); err != nil {
		t.Fatal(err)
	}
	return h
}
