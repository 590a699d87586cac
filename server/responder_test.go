package server

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/ntp"
	"github.com/leapsmear/leapsmear/ratelimit"
	"github.com/leapsmear/leapsmear/smear"
	"github.com/leapsmear/leapsmear/timescale"
)

var testSettings = Settings{Stratum: 3, RefID: 0x4c534d52, Precision: -23,
	RootDelay: 1500 * time.Microsecond, RootDispersion: 2 * time.Millisecond}

// served is the NTP timestamp of the time served at x.
func served(s *smear.Smear, x leap.TAI) ntp.Timestamp {
	return ntp.TimestampFromUnixNano(s.Served(x).UnixNano())
}

// TestRespondFields checks every field of replies to NTP versions 1 to 4 at
// instants outside and inside a smear window and across the NTP era
// boundary of 2036, with requests whose other fields are garbage.
func TestRespondFields(t *testing.T) {
	tbl := leap.Default()
	s := ntptest.Smear(t, tbl, "noon-to-noon")
	rng := rand.New(rand.NewPCG(1, 2))
	const tick = 3 * time.Microsecond    // the source moves this much between the two readings
	const rxAge = 250 * time.Microsecond // the kernel took the packet this long before the reading
	for _, at := range []string{
		"2020-06-01T12:00:00.123456789Z",
		"2016-12-31T18:00:00Z",           // a quarter into the 2016 smear
		"2017-01-01T06:00:00.5Z",         // three quarters
		"2036-02-07T06:28:15.999999Z",    // the last microsecond of NTP era 0
		"2036-02-07T06:28:16.0000001Z",   // era 1
		"2016-12-31T23:59:59.999999999Z", // around the leap itself, mid-smear
	} {
		start := mustTime(t, at)
		src := newFakeSource(tbl, start, tick)
		r := NewResponder(src, s, testSettings, nil)
		for version := uint8(1); version <= 4; version++ {
			for _, poll := range []int8{-7, 0, 6, 17} {
				transmit := ntp.Timestamp(rng.Uint64())
				req := request(t, version, ntp.ModeClient, poll, transmit, nil)
				for i := 1; i < 40; i++ { // garbage in every field the server must ignore
					if i != 2 {
						req[i] = byte(rng.Uint32())
					}
				}
				req[0] |= 0xc0 // and a leap indicator of 3
				x := src.Now().TAI
				src.set(x, int64(tbl.UnixFromTAI(x))) // undo the tick of the reading above
				rx := int64(tbl.UnixFromTAI(x)) - int64(rxAge)
				resp := make([]byte, ntp.HeaderLen)
				n, v := respond(r, req, resp, rx)
				if n != ntp.HeaderLen || v != Answered {
					t.Fatalf("%s v%d: length %d verdict %v", at, version, n, v)
				}
				h := decode(t, resp)
				want := ntp.Header{Leap: ntp.LeapNone, Version: version, Mode: ntp.ModeServer, Stratum: 3, Poll: poll,
					Precision: -23, RootDelay: ntp.ShortFromDuration(1500 * time.Microsecond),
					RootDispersion: ntp.ShortFromDuration(2 * time.Millisecond), ReferenceID: 0x4c534d52,
					Origin:   transmit,
					Receive:  served(s, x-leap.TAI(rxAge)),
					Transmit: served(s, x+leap.TAI(tick)), // the second, later reading
				}
				want.Reference = h.Reference
				if h != want {
					t.Fatalf("%s v%d poll %d:\n got %+v\nwant %+v", at, version, poll, h, want)
				}
				if d := h.Receive.Sub(h.Reference); d < 0 || d >= 16*time.Second {
					t.Errorf("%s: reference %v is %v before receive", at, h.Reference, d)
				}
				if d := h.Transmit.Sub(h.Receive); d <= 0 || d > time.Millisecond {
					t.Errorf("%s: transmit - receive = %v", at, d)
				}
			}
		}
	}
}

// TestRespondServesTheSmear checks the served time against the policy's
// published offsets, independently of the smear package: noon-to-noon is a
// quarter of a second behind UTC at 18:00 before the 2016 leap and a
// quarter ahead at 06:00 after it.
func TestRespondServesTheSmear(t *testing.T) {
	tbl := leap.Default()
	s := ntptest.Smear(t, tbl, "noon-to-noon")
	for _, c := range []struct {
		at   string
		want time.Duration
	}{
		{"2016-12-31T11:00:00Z", 0},
		{"2016-12-31T18:00:00Z", -250 * time.Millisecond},
		{"2017-01-01T06:00:00Z", 250 * time.Millisecond},
		{"2017-01-01T13:00:00Z", 0},
	} {
		at := mustTime(t, c.at)
		r := NewResponder(newFakeSource(tbl, at, 0), s, testSettings, nil)
		resp := make([]byte, ntp.HeaderLen)
		if n, _ := respond(r, request(t, 4, 3, 0, 1, nil), resp, 0); n != ntp.HeaderLen {
			t.Fatal("not answered")
		}
		h := decode(t, resp)
		for _, ts := range []ntp.Timestamp{h.Receive, h.Transmit} {
			got := ts.Time(at).Sub(at)
			if d := got - c.want; d < -100*time.Microsecond || d > 100*time.Microsecond {
				t.Errorf("%s: served %v from UTC, want %v", c.at, got, c.want)
			}
		}
	}
}

// TestRespondReceiveTimestamp: the kernel's receive timestamp is mapped
// through the reading; none, one from after the reading or one too old for
// the mapping (the host clock stepped in between) fall back to the reading.
func TestRespondReceiveTimestamp(t *testing.T) {
	tbl := leap.Default()
	s := ntptest.Smear(t, tbl, "noon-to-noon")
	at := mustTime(t, "2016-12-31T20:00:00Z")
	src := newFakeSource(tbl, at, 0)
	r := NewResponder(src, s, testSettings, nil)
	x := tbl.TAIFromTime(at)
	real := at.UnixNano()
	for _, c := range []struct {
		name string
		rx   int64
		want leap.TAI
	}{
		{"none", 0, x},
		{"1ms old", real - 1e6, x - 1e6},
		{"at the reading", real, x},
		{"after the reading", real + 1e6, x},
		{"at the age limit", real - int64(timescale.MaxRxAge), x - leap.TAI(timescale.MaxRxAge)},
		{"too old", real - int64(timescale.MaxRxAge) - 1, x},
	} {
		resp := make([]byte, ntp.HeaderLen)
		respond(r, request(t, 4, 3, 0, 1, nil), resp, c.rx)
		if got, want := decode(t, resp).Receive, served(s, c.want); got != want {
			t.Errorf("%s: receive %v, want %v (off by %v)", c.name, got, want, got.Sub(want))
		}
	}
}

// TestRespondLeapIndicator: the step policy announces the leap from 00:00
// UTC of the leap day until it is over, a smear never announces it, and an
// unsynchronised source answers LI=3 with stratum 16 whatever the policy.
func TestRespondLeapIndicator(t *testing.T) {
	tbl := leap.Default()
	deleted, err := tbl.WithRehearsal(mustTime(t, "2030-01-01T00:00:00Z"), -1)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		tbl   *leap.Table
		label string
		step  uint8 // LI of the step policy; smears always 0
	}{
		{tbl, "2016-12-30T23:59:59.999999999Z", ntp.LeapNone},
		{tbl, "2016-12-31T00:00:00Z", ntp.LeapInsert},
		{tbl, "2016-12-31T12:00:00Z", ntp.LeapInsert},
		{tbl, "2016-12-31T23:59:59.5Z", ntp.LeapInsert},
		{tbl, "2016-12-31T23:59:60.5Z", ntp.LeapInsert},
		{tbl, "2017-01-01T00:00:00Z", ntp.LeapNone},
		{tbl, "2017-01-01T06:00:00Z", ntp.LeapNone},
		{deleted, "2029-12-30T23:59:59Z", ntp.LeapNone},
		{deleted, "2029-12-31T00:00:00Z", ntp.LeapDelete},
		{deleted, "2029-12-31T23:59:58.9Z", ntp.LeapDelete},
		{deleted, "2030-01-01T00:00:00Z", ntp.LeapNone},
	}
	for _, policy := range []string{"step", "noon-to-noon", "quadratic-17h", "linear:-30s:61s"} {
		for _, c := range cases {
			l, err := leap.ParseLabel(c.label)
			if err != nil {
				t.Fatal(err)
			}
			x, err := c.tbl.TAIFromLabel(l)
			if err != nil {
				t.Fatal(err)
			}
			src := newFakeSource(c.tbl, time.Time{}, 0)
			src.set(x, int64(c.tbl.UnixFromTAI(x)))
			r := NewResponder(src, ntptest.Smear(t, c.tbl, policy), testSettings, nil)
			want := ntp.LeapNone
			if policy == "step" {
				want = c.step
			}
			for _, synced := range []bool{true, false} {
				src.synced.Store(synced)
				resp := make([]byte, ntp.HeaderLen)
				if n, _ := respond(r, request(t, 4, 3, 0, 1, nil), resp, 0); n != ntp.HeaderLen {
					t.Fatal("not answered")
				}
				h := decode(t, resp)
				wantLI, wantStratum := want, uint8(3)
				if !synced {
					wantLI, wantStratum = ntp.LeapUnsynchronised, ntp.StratumUnsynchronised
				}
				if h.Leap != wantLI || h.Stratum != wantStratum {
					t.Errorf("%s at %s (synced %v): LI %d stratum %d, want %d %d", policy, c.label, synced,
						h.Leap, h.Stratum, wantLI, wantStratum)
				}
				if h.Receive == 0 || h.Transmit == 0 || h.Origin != 1 {
					t.Errorf("%s at %s (synced %v): timestamps %+v", policy, c.label, synced, h)
				}
			}
		}
	}
}

// TestRespondDrops: every request that must stay unanswered, with the
// reason counted, and not a byte of the reply buffer written.
func TestRespondDrops(t *testing.T) {
	tbl := leap.Default()
	r := NewResponder(newFakeSource(tbl, mustTime(t, "2020-01-01T00:00:00Z"), 0), ntptest.Smear(t, tbl, "noon-to-noon"), testSettings, nil)
	v4 := func(trailer []byte) []byte { return request(t, 4, ntp.ModeClient, 6, 99, trailer) }
	v3 := func(trailer []byte) []byte { return request(t, 3, ntp.ModeClient, 6, 99, trailer) }
	cases := []struct {
		name string
		req  []byte
		want Verdict
	}{
		{"empty", nil, DropShort},
		{"one byte", []byte{0x23}, DropShort},
		{"47 bytes", v4(nil)[:47], DropShort},
		{"mode 6 readstat (12 bytes)", []byte{0x16, 0x01, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}, DropShort},
		{"version 0", request(t, 0, 3, 6, 99, nil), DropVersion},
		{"version 5 without a draft identification", request(t, 5, 3, 6, 99, nil), DropVersion},
		{"version 6", request(t, 6, 3, 6, 99, nil), DropVersion},
		{"version 7", request(t, 7, 3, 6, 99, nil), DropVersion},
		{"version 0 and mode 6", request(t, 0, 6, 6, 99, nil), DropVersion},
		{"mode 0", request(t, 4, 0, 6, 99, nil), DropMode},
		{"mode 1 symmetric active", request(t, 4, 1, 6, 99, nil), DropMode},
		{"mode 2 symmetric passive", request(t, 4, 2, 6, 99, nil), DropMode},
		{"mode 4 server (a reflected reply)", request(t, 4, 4, 6, 99, nil), DropMode},
		{"mode 5 broadcast", request(t, 4, 5, 6, 99, nil), DropMode},
		{"mode 6 control", request(t, 2, 6, 6, 99, nil), DropMode},
		{"mode 7 private (monlist)", append([]byte{0x17, 0x00, 0x03, 0x2a}, make([]byte, 44)...), DropMode},
		{"mode 7 with a trailer", request(t, 4, 7, 6, 99, mac(20)), DropMode},
		{"v3 mode 1", request(t, 3, 1, 6, 99, nil), DropMode},
		{"1 byte after the header", v4([]byte{0}), DropMalformed},
		{"3 bytes after the header", v4([]byte{0, 0, 0}), DropMalformed},
		{"4 non-zero bytes (not a crypto-NAK)", v4([]byte{0, 0, 0, 1}), DropMalformed},
		{"8 bytes", v4(make([]byte, 8)), DropMalformed},
		{"12 bytes", v4(make([]byte, 12)), DropMalformed},
		{"extension claiming 12 bytes", v4(append(extension(0x0104, 16)[:2:2], 0, 12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)), DropMalformed},
		{"extension claiming more than present", v4(append(extension(0x0104, 32)[:16], make([]byte, 12)...)), DropMalformed},
		{"extension length not a multiple of 4", v4(append(append(extension(0x0104, 16)[:2:2], 0, 18), make([]byte, 28)...)), DropMalformed},
		{"extension then 12 stray bytes", v4(append(extension(0x0104, 16), make([]byte, 12)...)), DropMalformed},
		{"v3 with a 16-byte MAC", v3(mac(16)), DropMalformed},
		{"v3 with a 76-byte MAC", v3(mac(76)), DropMalformed},
		{"v3 with an extension field", v3(extension(0x0104, 16)), DropMalformed},
	}
	for _, c := range cases {
		resp := bytes.Repeat([]byte{0xee}, ntp.HeaderLen)
		n, v := respond(r, c.req, resp, 0)
		if n != 0 || v != c.want {
			t.Errorf("%s: length %d verdict %v, want 0 %v", c.name, n, v, c.want)
		}
		if !slices.Contains(DropReasons(), v) {
			t.Errorf("%s: verdict %v is not a drop reason", c.name, v)
		}
		if !bytes.Equal(resp, bytes.Repeat([]byte{0xee}, ntp.HeaderLen)) {
			t.Errorf("%s: reply buffer written: % x", c.name, resp)
		}
	}
}

// TestRespondTrailers: requests carrying extension fields or a MAC (which
// the server does not check, and does not echo) are answered with a bare
// 48-byte reply.
func TestRespondTrailers(t *testing.T) {
	tbl := leap.Default()
	r := NewResponder(newFakeSource(tbl, mustTime(t, "2020-01-01T00:00:00Z"), 0), ntptest.Smear(t, tbl, "noon-to-noon"), testSettings, nil)
	cat := func(parts ...[]byte) []byte { return slices.Concat(parts...) }
	cases := []struct {
		name    string
		version uint8
		trailer []byte
	}{
		{"crypto-NAK", 4, make([]byte, 4)},
		{"MD5 MAC", 4, mac(20)},
		{"SHA-1 MAC", 4, mac(24)},
		{"one extension", 4, extension(0x0104, 16)},
		{"NTS-like: unique identifier, cookie, authenticator", 4, cat(extension(0x0104, 36), extension(0x0204, 104), extension(0x0404, 40))},
		{"extension and MAC", 4, cat(extension(0x0104, 16), mac(20))},
		{"two extensions and SHA-1 MAC", 4, cat(extension(0x0104, 16), extension(0x0200, 28), mac(24))},
		{"v3 MD5 MAC", 3, mac(20)},
		{"v3 longest MAC", 3, mac(72)},
		{"v2 MAC", 2, mac(20)},
		{"v1 MAC", 1, mac(20)},
	}
	for _, c := range cases {
		req := request(t, c.version, ntp.ModeClient, 4, 0x0123456789abcdef, c.trailer)
		resp := make([]byte, ntp.HeaderLen)
		n, v := respond(r, req, resp, 0)
		if n != ntp.HeaderLen || v != Answered {
			t.Errorf("%s (%d bytes): length %d verdict %v, want an answer", c.name, len(req), n, v)
			continue
		}
		if h := decode(t, resp); h.Mode != ntp.ModeServer || h.Version != c.version || h.Origin != 0x0123456789abcdef {
			t.Errorf("%s: reply %+v", c.name, h)
		}
	}
}

// TestRespondProperty: random datagrams, half of them client requests of a
// random version with random bytes after them. The reply is 0 or 48 bytes,
// never longer than the request, and answered exactly when the request is a
// well-formed client request of versions 1 to 4.
func TestRespondProperty(t *testing.T) {
	tbl := leap.Default()
	r := NewResponder(newFakeSource(tbl, mustTime(t, "2020-01-01T00:00:00Z"), time.Microsecond), ntptest.Smear(t, tbl, "noon-to-noon"), testSettings, nil)
	rng := rand.New(rand.NewPCG(3, 4))
	answered := 0
	for range 20000 {
		req := make([]byte, rng.IntN(160))
		for i := range req {
			req[i] = byte(rng.Uint32())
		}
		if len(req) > 0 && rng.IntN(2) == 0 {
			req[0] = byte(rng.IntN(4))<<6 | byte(rng.IntN(8))<<3 | ntp.ModeClient
			if len(req) > ntp.HeaderLen && rng.IntN(2) == 0 {
				// a well-formed trailer now and then
				req = append(req[:ntp.HeaderLen], []([]byte){mac(20), mac(24), make([]byte, 4), extension(1, 16+4*rng.IntN(10))}[rng.IntN(4)]...)
			}
		}
		resp := make([]byte, max(len(req), ntp.HeaderLen))
		n, v := respond(r, req, resp, 0)
		checkReply(t, req, resp, n, v)
		if n > 0 {
			answered++
		}
	}
	if answered < 1500 {
		t.Errorf("only %d of 20000 answered: the generator is too weak", answered)
	}
}

// wellFormed says whether req is a client request that must be answered:
// versions 1 to 4 with a well-formed trailer, or version 5 with well-formed
// extension fields naming this draft.
func wellFormed(req []byte) bool {
	if len(req) < ntp.HeaderLen {
		return false
	}
	version, mode := req[0]>>3&7, req[0]&7
	if version < 1 || version > 5 || mode != ntp.ModeClient {
		return false
	}
	if version == ntp.Version5 {
		draft := false
		for rest := req[ntp.HeaderLen:]; ; {
			f, next, ok, err := ntp.NextExtensionV5(rest)
			if err != nil {
				return false
			}
			if !ok {
				return draft
			}
			if f.Type == ntp.ExtV5DraftID {
				draft = string(f.Value) == ntp.V5Draft
			}
			rest = next
		}
	}
	_, _, err := ntp.Trailer(req)
	return err == nil
}

// checkReply checks the invariants of every reply to req: never longer than
// req; 48 bytes to versions 1 to 4 (and the smear declaration's field when
// asked), as long as the request for version 5.
func checkReply(t *testing.T, req, resp []byte, n int, v Verdict) {
	t.Helper()
	if n > len(req) {
		t.Fatalf("reply of %d bytes to a request of %d", n, len(req))
	}
	if wellFormed(req) != (n > 0) {
		t.Fatalf("request % x: reply length %d, verdict %v", req, n, v)
	}
	if n == 0 {
		if !slices.Contains(DropReasons(), v) {
			t.Fatalf("dropped with verdict %v", v)
		}
		return
	}
	if req[0]>>3&7 == ntp.Version5 {
		var h, q ntp.HeaderV5
		_ = h.Decode(resp)
		_ = q.Decode(req)
		ts, ok := v.Timescale()
		if n != len(req) || !ok || resp[0]>>3&7 != 5 || h.Mode != ntp.ModeServer || h.ClientCookie != q.ClientCookie || h.Timescale != ts {
			t.Fatalf("request % x: %d bytes, %v, reply %+v", req, n, v, h)
		}
		return
	}
	want := ntp.HeaderLen
	if _, l, ok := ntp.FindExtension(req, ntp.ExtSmearInfo); ok && req[0]>>3&7 == 4 {
		want += l
	}
	if n != want || v != Answered {
		t.Fatalf("reply length %d verdict %v", n, v)
	}
	h := decode(t, resp)
	if h.Mode != ntp.ModeServer || h.Version != req[0]>>3&7 || h.Origin != ntp.Timestamp(binary.BigEndian.Uint64(req[40:48])) {
		t.Fatalf("request % x: reply %+v", req, h)
	}
}

// countingLimiter answers with a fixed decision and records its calls.
type countingLimiter struct {
	decision ratelimit.Decision
	keys     []netip.Addr
	monos    []int64
}

func (l *countingLimiter) Allow(src netip.Addr, at ratelimit.Instant) ratelimit.Decision {
	mono := int64(at)
	l.keys = append(l.keys, src)
	l.monos = append(l.monos, mono)
	return l.decision
}

// TestRespondLimiter: the limiter is asked once per well-formed request
// only; a Kissed verdict gets a RATE Kiss-o'-Death carrying no time, a
// rate-limited one no answer.
func TestRespondLimiter(t *testing.T) {
	tbl := leap.Default()
	at := mustTime(t, "2020-01-01T00:00:00Z")
	src := newFakeSource(tbl, at, 0)
	s := ntptest.Smear(t, tbl, "noon-to-noon")

	kiss := &countingLimiter{decision: ratelimit.Kiss}
	r := NewResponder(src, s, testSettings, kiss)
	if n, v := respond(r, request(t, 4, 6, 0, 5, nil), make([]byte, 48), 0); n != 0 || v != DropMode || len(kiss.keys) != 0 {
		t.Fatalf("mode 6: %d %v, limiter asked %d times", n, v, len(kiss.keys))
	}
	for _, poll := range []int8{3, 10} {
		resp := make([]byte, ntp.HeaderLen)
		n, v := respond(r, request(t, 3, 3, poll, 0xfeedface, nil), resp, 0)
		if n != ntp.HeaderLen || v != Kissed {
			t.Fatalf("kiss: %d %v", n, v)
		}
		h := decode(t, resp)
		want := ntp.Header{Leap: ntp.LeapUnsynchronised, Version: 3, Mode: ntp.ModeServer, Stratum: 0,
			Poll: max(poll, 6), Precision: -23, ReferenceID: ntp.KissRATE,
			Origin: 0xfeedface, Receive: 0xfeedface, Transmit: 0xfeedface}
		if h != want || !h.IsKiss() || ntp.KissCode(h.ReferenceID) != "RATE" {
			t.Errorf("kiss:\n got %+v\nwant %+v", h, want)
		}
	}
	if a := testClient.Addr(); !slices.Equal(kiss.keys, []netip.Addr{a, a}) || kiss.monos[0] != int64(tbl.TAIFromTime(at)) {
		t.Errorf("limiter called with keys %v at %v", kiss.keys, kiss.monos)
	}

	r = NewResponder(src, s, testSettings, &countingLimiter{decision: ratelimit.Drop})
	resp := bytes.Repeat([]byte{0xee}, ntp.HeaderLen)
	if n, v := respond(r, request(t, 4, 3, 0, 1, nil), resp, 0); n != 0 || v != DropRateLimited || resp[0] != 0xee {
		t.Errorf("rate limited: %d %v % x", n, v, resp[:4])
	}
	r = NewResponder(src, s, testSettings, &countingLimiter{decision: ratelimit.Answer})
	if n, v := respond(r, request(t, 4, 3, 0, 1, nil), make([]byte, 48), 0); n != 48 || v != Answered {
		t.Errorf("allowed: %d %v", n, v)
	}
}

// TestSetSmear: a replaced smear (a reloaded table) is used from the next
// request on.
func TestSetSmear(t *testing.T) {
	tbl := leap.Default()
	at := mustTime(t, "2016-12-31T18:00:00Z")
	step, noon := ntptest.Smear(t, tbl, "step"), ntptest.Smear(t, tbl, "noon-to-noon")
	r := NewResponder(newFakeSource(tbl, at, 0), step, testSettings, nil)
	receive := func() ntp.Header {
		resp := make([]byte, ntp.HeaderLen)
		respond(r, request(t, 4, 3, 0, 1, nil), resp, 0)
		return decode(t, resp)
	}
	if h := receive(); h.Receive != ntp.TimestampFromTime(at) || h.Leap != ntp.LeapInsert || r.Smear() != step {
		t.Fatalf("step: %+v", h)
	}
	r.SetSmear(noon)
	if h := receive(); h.Receive != served(noon, tbl.TAIFromTime(at)) || h.Leap != ntp.LeapNone || r.Smear() != noon {
		t.Fatalf("after SetSmear: %+v", h)
	}
	if r.Settings() != testSettings {
		t.Errorf("settings %+v", r.Settings())
	}
}

// TestRespondStepImmunity walks a host clock through the 2016 leap in
// 100 ms ticks; at midnight the host kernel inserts the leap second itself
// by stepping its realtime back one second. The replies' receive and
// transmit timestamps (from kernel timestamps read on that stepping
// realtime) stay on the policy's curve: continuous for the smear, the
// single repeated second for step.
func TestRespondStepImmunity(t *testing.T) {
	tbl := leap.Default()
	event := mustTime(t, "2017-01-01T00:00:00Z")
	const rxAge = 40 * time.Microsecond
	for _, policy := range []string{"noon-to-noon", "step", "linear:-30s:61s"} {
		t.Run(policy, func(t *testing.T) {
			start := event.Add(-60 * time.Second)
			clk := timescale.NewManualClock(start)
			src, err := timescale.NewSystem(timescale.Config{Table: tbl, Clock: clk, CheckInterval: -1,
				Kernel: func() (timescale.KernelState, error) { return timescale.KernelState{State: timescale.TimeOK}, nil },
				Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			s := ntptest.Smear(t, tbl, policy)
			r := NewResponder(src, s, testSettings, nil)
			x0 := tbl.TAIFromTime(start)
			var prev ntp.Header
			backwards, stepped := 0, false
			for i := 1; i <= 1200; i++ {
				clk.Advance(100 * time.Millisecond)
				if real, _ := clk.Now(); real == timescale.Realtime(event.UnixNano()) && !stepped {
					clk.Step(-time.Second) // the kernel inserts 23:59:60
					stepped = true
				}
				src.Check()
				real, _ := clk.Now()
				resp := make([]byte, ntp.HeaderLen)
				if n, _ := respond(r, request(t, 4, 3, 0, 1, nil), resp, int64(real)-int64(rxAge)); n != ntp.HeaderLen {
					t.Fatal("not answered")
				}
				h := decode(t, resp)
				x := x0 + leap.TAI(i)*leap.TAI(100*time.Millisecond)
				if want := served(s, x-leap.TAI(rxAge)); h.Receive != want {
					t.Fatalf("tick %d (%s): receive %v, want %v (off by %v)", i, tbl.LabelFromTAI(x), h.Receive, want, h.Receive.Sub(want))
				}
				if want := served(s, x); h.Transmit != want {
					t.Fatalf("tick %d (%s): transmit off by %v", i, tbl.LabelFromTAI(x), h.Transmit.Sub(want))
				}
				if i > 1 {
					d := h.Receive.Sub(prev.Receive)
					switch {
					case d <= 0:
						backwards++
					case d > 100*time.Millisecond+time.Millisecond:
						t.Fatalf("tick %d: served time jumped %v", i, d)
					}
				}
				prev = h
			}
			if !stepped {
				t.Fatal("the host clock never leapt")
			}
			if want := map[bool]int{true: 1, false: 0}[policy == "step"]; backwards != want {
				t.Errorf("served time went back %d times, want %d", backwards, want)
			}
			if st := src.Stats(); st.KernelLeaps != 1 || st.Steps != 0 {
				t.Errorf("source saw kernel leaps %d steps %d, want 1 0", st.KernelLeaps, st.Steps)
			}
		})
	}
}

// TestRespondAllocatesNothing: the reply path allocates nothing, with a
// fake source and with the real system source.
func TestRespondAllocatesNothing(t *testing.T) {
	tbl := leap.Default()
	s := ntptest.Smear(t, tbl, "noon-to-noon")
	sys, err := timescale.NewSystem(timescale.Config{Table: tbl, AssumeSynced: true, CheckInterval: -1,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	req := request(t, 4, 3, 6, 12345, mac(20))
	resp := make([]byte, ntp.HeaderLen)
	for _, src := range []timescale.Source{newFakeSource(tbl, mustTime(t, "2016-12-31T18:00:00Z"), time.Microsecond), sys} {
		r := NewResponder(src, s, testSettings, &countingLimiter{decision: ratelimit.Answer, keys: make([]netip.Addr, 0, 4096), monos: make([]int64, 0, 4096)})
		rx := time.Now().UnixNano()
		if a := testing.AllocsPerRun(1000, func() { respond(r, req, resp, rx) }); a != 0 {
			t.Errorf("%s: %v allocations per reply", src.Name(), a)
		}
		if a := testing.AllocsPerRun(1000, func() { respond(r, req[:47], resp, rx) }); a != 0 {
			t.Errorf("%s: %v allocations per drop", src.Name(), a)
		}
	}
}

func TestVerdicts(t *testing.T) {
	names := map[string]bool{}
	for v := Verdict(0); v < numVerdicts; v++ {
		if names[v.String()] || v.String() == "unknown" {
			t.Errorf("verdict %d named %q twice or not at all", v, v)
		}
		names[v.String()] = true
	}
	if Verdict(200).String() != "unknown" {
		t.Error("out-of-range verdict")
	}
	want := []Verdict{DropShort, DropVersion, DropMode, DropMalformed, DropRateLimited, DropSource, DropUnauthenticated}
	if got := DropReasons(); !slices.Equal(got, want) {
		t.Errorf("DropReasons %v, want %v", got, want)
	}
	var st Stats
	st.Verdicts[Answered], st.Verdicts[Kissed], st.Verdicts[DropMode], st.Verdicts[DropShort] = 5, 2, 3, 4
	if st.Answered() != 5 || st.Dropped() != 7 {
		t.Errorf("answered %d dropped %d", st.Answered(), st.Dropped())
	}
}

// TestRespondImpossibleSources: requests that claim a source no host sends
// from (port 0, an unspecified, multicast or broadcast address, IPv4-mapped
// or not) are dropped as bad_source, whatever they hold; real sources of
// every kind are answered. (The directed broadcasts of the host's subnets:
// TestRespondDirectedBroadcast.)
func TestRespondImpossibleSources(t *testing.T) {
	tbl := leap.Default()
	r := NewResponder(newFakeSource(tbl, mustTime(t, "2020-01-01T00:00:00Z"), 0), ntptest.Smear(t, tbl, "noon-to-noon"), testSettings, nil)
	req := request(t, 4, ntp.ModeClient, 6, 99, nil)
	for _, c := range []struct {
		src  string
		want Verdict
	}{
		{"127.0.0.1:0", DropSource},
		{"0.0.0.0:123", DropSource},
		{"[::]:123", DropSource},
		{"255.255.255.255:123", DropSource},
		{"224.0.1.1:123", DropSource},
		{"239.255.255.250:40000", DropSource},
		{"[ff02::101]:123", DropSource},
		{"[ff05::1:3]:40000", DropSource},
		{"[::ffff:255.255.255.255]:123", DropSource}, // IPv4-mapped, as a dual-stack socket could give them
		{"[::ffff:0.0.0.0]:123", DropSource},
		{"[::ffff:224.0.1.1]:123", DropSource},
		{"[::ffff:127.0.0.5]:40000", Answered},
		{"127.0.0.1:123", Answered},
		{"127.0.0.5:40000", Answered},
		{"[::1]:40000", Answered},
	} {
		b := r.Begin()
		src := netip.MustParseAddrPort(c.src)
		if n, v := r.Respond(&b, Request{Data: req, Source: src}, make([]byte, ntp.HeaderLen)); v != c.want || (v == Answered) != (n == ntp.HeaderLen) {
			t.Errorf("from %s: %d bytes, %v; want %v", c.src, n, v, c.want)
		}
	}
	if b := r.Begin(); true {
		if _, v := r.Respond(&b, Request{Data: req}, make([]byte, ntp.HeaderLen)); v != DropSource {
			t.Errorf("no source: %v", v)
		}
	}
}
