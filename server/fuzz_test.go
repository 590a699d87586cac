package server

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/ntp"
)

// FuzzRespond feeds any bytes to the reply builder, with a kernel receive
// timestamp anywhere around the reading. It must never panic; the reply is
// never longer than the request; it is given exactly to well-formed client
// requests of versions 1 to 4 (48 bytes) and 5; a reply is mode 4 of the
// request's version with the request's transmit timestamp as origin and
// receive <= transmit; a dropped request leaves the reply buffer untouched.
func FuzzRespond(f *testing.F) {
	for v := uint8(0); v <= 7; v++ {
		for mode := uint8(0); mode <= 7; mode++ {
			f.Add(request(f, v, mode, 6, 0x0102030405060708, nil), int64(0))
		}
	}
	for _, tr := range [][]byte{make([]byte, 4), mac(20), mac(24), mac(72), extension(0x0104, 16),
		slices.Concat(extension(0x0104, 36), extension(0x0204, 104), extension(0x0404, 40)), {1, 2, 3}, extension(1, 32)[:20]} {
		f.Add(request(f, 4, 3, 6, 1, tr), int64(-1000))
		f.Add(request(f, 3, 3, 6, 1, tr), int64(-600e6))
	}
	f.Add([]byte{}, int64(1))
	f.Add([]byte{0x16, 0x01, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}, int64(0))

	tbl := leap.Default()
	at, _ := time.Parse(time.RFC3339, "2016-12-31T18:00:00Z")
	src := newFakeSource(tbl, at, time.Microsecond)
	s := ntptest.Smear(f, tbl, "noon-to-noon")
	r := NewResponder(src, s, testSettings, nil)
	f.Fuzz(func(t *testing.T, req []byte, rxOffset int64) {
		size := max(len(req), ntp.HeaderLen)
		resp := bytes.Repeat([]byte{0xee}, size)
		n, v := respond(r, req, resp, at.UnixNano()+rxOffset)
		checkReply(t, req, resp, n, v)
		if n == 0 {
			if !bytes.Equal(resp, bytes.Repeat([]byte{0xee}, size)) {
				t.Fatalf("dropped, but the reply buffer was written: % x", resp)
			}
			return
		}
		if req[0]>>3&7 == ntp.Version5 {
			return // FuzzRespondV5 checks these
		}
		h := decode(t, resp)
		if h.Stratum != testSettings.Stratum || h.Leap != ntp.LeapNone || h.Transmit.Sub(h.Receive) < 0 ||
			h.Receive.Sub(h.Reference) < 0 {
			t.Fatalf("reply %+v", h)
		}
	})
}
