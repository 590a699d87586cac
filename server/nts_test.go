package server

import (
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/ntp"
	"github.com/leapsmear/leapsmear/nts"
)

// ntsFixture is a responder with NTS on and a client association with it.
type ntsFixture struct {
	r     *Responder
	src   *fakeSource
	ring  *nts.Ring
	sess  *nts.Session
	slots []NTSSlot
}

func newNTSFixture(t testing.TB, require bool) *ntsFixture {
	t.Helper()
	tbl := leap.Default()
	at := time.Date(2016, 12, 31, 18, 0, 0, 0, time.UTC) // inside the 2016 smear
	src := newFakeSource(tbl, at, 2*time.Microsecond)
	r := NewResponder(src, ntptest.Smear(t, tbl, "noon-to-noon"), testSettings, nil)
	kf, err := nts.NewKeyFile(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := kf.Ring(at.Unix())
	if err != nil {
		t.Fatal(err)
	}
	r.SetNTS(nts.NewServer(ring, rand.Reader), require)
	return &ntsFixture{r: r, src: src, ring: ring, sess: newSession(t, ring), slots: NewNTSSlots(1)}
}

func newSession(t testing.TB, ring *nts.Ring) *nts.Session {
	t.Helper()
	keys := nts.Keys{AEAD: nts.AEADAESSIVCMAC256}
	_, _ = rand.Read(keys.C2S[:])
	_, _ = rand.Read(keys.S2C[:])
	cookies, err := ring.MakeCookies(&keys, 8, func(b []byte) error { _, err := rand.Read(b); return err })
	if err != nil {
		t.Fatal(err)
	}
	s, err := nts.NewSession(keys, cookies)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// answer is the socket's path for one request: Respond, then SealNTS or
// StampTransmit.
func (f *ntsFixture) answer(req []byte) ([]byte, Verdict) {
	resp := make([]byte, 1024)
	b := f.r.Begin()
	q := Request{Data: req, Source: testClient, NTS: &f.slots[0]}
	n, v := f.r.Respond(&b, q, resp)
	switch {
	case v == AnsweredNTS:
		n = f.r.SealNTS(&b, q, resp)
	case n > 0:
		StampTransmit(resp, f.r.TransmitTime(&b))
	}
	return resp[:n], v
}

func TestNTSReply(t *testing.T) {
	f := newNTSFixture(t, false)
	const transmit = ntp.Timestamp(0x0123456789abcdef)
	req, uid := ntptest.NTSRequest(t, f.sess, transmit, 1)
	before := f.sess.Cookies()
	resp, v := f.answer(req)
	if v != AnsweredNTS || len(resp) != len(req) {
		t.Fatalf("verdict %v, %d-byte reply to %d bytes", v, len(resp), len(req))
	}
	if err := f.sess.CheckReply(resp, uid); err != nil {
		t.Fatalf("client refuses the reply: %v", err)
	}
	if f.sess.Cookies() != before+1 {
		t.Errorf("cookies %d -> %d, want two new ones for a cookie and a placeholder", before, f.sess.Cookies())
	}
	// The authenticated header is the same reply as a plain request gets,
	// transmit timestamp written before sealing.
	var h ntp.Header
	_ = h.Decode(resp)
	s := f.r.Smear()
	if h.Mode != ntp.ModeServer || h.Origin != transmit || h.Stratum != testSettings.Stratum || h.Transmit == 0 {
		t.Errorf("header %+v", h)
	}
	if want := served(s, f.src.Now().TAI); h.Receive.Sub(want) > 0 || h.Transmit.Sub(h.Receive) < 0 {
		t.Errorf("receive %v transmit %v, now serves %v", h.Receive, h.Transmit, want)
	}
	// Tampering with the reply's header breaks it for the client.
	resp[40] ^= 1
	if err := f.sess.CheckReply(resp, uid); !errors.Is(err, nts.ErrAuth) {
		t.Errorf("tampered transmit timestamp: %v", err)
	}
	// A plain request is still answered.
	plain := make([]byte, ntp.HeaderLen)
	plain[0] = 0x23
	if r, v := f.answer(plain); v != Answered || len(r) != ntp.HeaderLen {
		t.Errorf("plain request: %v, %d bytes", v, len(r))
	}
}

func TestNTSNAKAndRequire(t *testing.T) {
	f := newNTSFixture(t, true)
	other := newNTSFixture(t, true)
	// A cookie of another server's ring: NAK.
	req, uid := ntptest.NTSRequest(t, other.sess, 1, 1)
	resp, v := f.answer(req)
	if v != NAKCookie {
		t.Fatalf("foreign cookie: %v", v)
	}
	if err := other.sess.CheckReply(resp, uid); !errors.Is(err, nts.ErrNAK) {
		t.Fatalf("client reads the NAK as %v", err)
	}
	var h ntp.Header
	_ = h.Decode(resp)
	if !h.IsKiss() || h.ReferenceID != ntp.KissNTSN || len(resp) > len(req) {
		t.Errorf("NAK header %+v, %d bytes", h, len(resp))
	}
	// A bad authenticator: NAK too.
	req, _ = ntptest.NTSRequest(t, f.sess, 2, 1)
	req[len(req)-1] ^= 1
	if _, v := f.answer(req); v != NAKAuth {
		t.Errorf("bad tag: %v", v)
	}
	// NTS required: plain requests and broken NTS fields are dropped.
	plain := make([]byte, ntp.HeaderLen)
	plain[0] = 0x23
	if r, v := f.answer(plain); v != DropUnauthenticated || len(r) != 0 {
		t.Errorf("plain request with NTS required: %v", v)
	}
	req, _ = ntptest.NTSRequest(t, f.sess, 3, 1)
	if r, v := f.answer(req[:len(req)-4]); v != DropMalformed || len(r) != 0 {
		t.Errorf("truncated NTS request: %v", v)
	}
}

func TestNTSNoAllocation(t *testing.T) {
	f := newNTSFixture(t, false)
	req, _ := ntptest.NTSRequest(t, f.sess, 7, 1)
	bad := append([]byte(nil), req...)
	bad[len(bad)-1] ^= 1
	resp := make([]byte, 1024)
	q := Request{Data: req, Source: testClient, NTS: &f.slots[0]}
	qb := Request{Data: bad, Source: testClient, NTS: &f.slots[0]}
	allocs := testing.AllocsPerRun(1000, func() {
		b := f.r.Begin()
		if _, v := f.r.Respond(&b, q, resp); v != AnsweredNTS {
			t.Fatal(v)
		}
		if f.r.SealNTS(&b, q, resp) == 0 {
			t.Fatal("not sealed")
		}
		if _, v := f.r.Respond(&b, qb, resp); v != NAKAuth {
			t.Fatal(v)
		}
	})
	if allocs != 0 {
		t.Errorf("NTS reply and NAK allocate %v times per request", allocs)
	}
}

// FuzzRespondNTS: with NTS on, any datagram is dropped, NAKed or answered;
// no reply is longer than its request; an authenticated reply is exactly as
// long and carries the request's transmit timestamp as origin.
func FuzzRespondNTS(f *testing.F) {
	fx := newNTSFixture(f, false)
	for p := range 3 {
		req, _ := ntptest.NTSRequest(f, fx.sess, ntp.Timestamp(p+1), 1)
		f.Add(req)
	}
	f.Add(make([]byte, ntp.HeaderLen))
	f.Fuzz(func(t *testing.T, b []byte) {
		resp, v := fx.answer(b)
		if len(resp) > len(b) {
			t.Fatalf("%v: reply of %d bytes to %d", v, len(resp), len(b))
		}
		if v == AnsweredNTS {
			var h, q ntp.Header
			_ = h.Decode(resp)
			_ = q.Decode(b)
			if len(resp) != len(b) || h.Origin != q.Transmit {
				t.Fatalf("NTS reply of %d bytes to %d, origin %v", len(resp), len(b), h.Origin)
			}
		}
	})
}
