package nts

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	mrand "math/rand/v2"
	"testing"
	"time"
)

// fixedNow is a POSIX instant for the key rings of the tests.
const fixedNow = 1_798_761_600 // 2027-01-01T00:00:00Z

// seeded is a deterministic reader for tests.
type seeded struct{ r *mrand.ChaCha8 }

func newSeeded(seed byte) *seeded { return &seeded{mrand.NewChaCha8([32]byte{seed})} }

func (s *seeded) Read(b []byte) (int, error) { return s.r.Read(b) }

func testKeyFile(t testing.TB, seed byte) *KeyFile {
	t.Helper()
	kf, err := NewKeyFile(newSeeded(seed))
	if err != nil {
		t.Fatal(err)
	}
	return kf
}

func testRing(t testing.TB, kf *KeyFile, now int64) *Ring {
	t.Helper()
	r, err := kf.Ring(now)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// association is what NTS-KE would leave a client with: keys and cookies
// sealed by the server's ring.
func association(t testing.TB, ring *Ring, seed byte) (*Session, Keys) {
	t.Helper()
	var k Keys
	k.AEAD = AEADAESSIVCMAC256
	rd := newSeeded(seed)
	_, _ = rd.Read(k.C2S[:])
	_, _ = rd.Read(k.S2C[:])
	cookies, err := ring.MakeCookies(&k, MaxCookies, func(b []byte) error { _, err := rd.Read(b); return err })
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(k, cookies)
	if err != nil {
		t.Fatal(err)
	}
	return s, k
}

// request builds an NTS request from the session: a client header, a fresh
// UID and nonce.
func request(t testing.TB, s *Session, placeholders int) (req, uid []byte) {
	t.Helper()
	uid = make([]byte, MinUniqueIDLen)
	nonce := make([]byte, NonceLen)
	_, _ = rand.Read(uid)
	_, _ = rand.Read(nonce)
	req = make([]byte, maxPacket)
	req[0] = 0x23 // v4, client
	binary.BigEndian.PutUint64(req[40:], 0x1122334455667788)
	n, err := s.Request(req, uid, nonce, placeholders)
	if err != nil {
		t.Fatal(err)
	}
	return req[:n], uid
}

// answer runs the server side: Verify, a reply header, Reply.
func answer(t testing.TB, srv *Server, sc *Scratch, req []byte) ([]byte, error) {
	t.Helper()
	var q Request
	if err := srv.Verify(sc, req, &q); err != nil {
		resp := make([]byte, len(req))
		resp[0], resp[1] = 0xe4, 0 // LI 3, v4, server, stratum 0
		binary.BigEndian.PutUint32(resp[12:], 0x4e54534e)
		if n := srv.NAK(req, resp, &q); n > 0 && (errors.Is(err, ErrCookie) || errors.Is(err, ErrAuth)) {
			return resp[:n], err
		}
		return nil, err
	}
	resp := make([]byte, len(req))
	resp[0], resp[1] = 0x24, 1
	copy(resp[24:32], req[40:48])
	n, err := srv.Reply(sc, req, resp, &q)
	if err != nil {
		t.Fatal(err)
	}
	return resp[:n], nil
}

func TestExchange(t *testing.T) {
	kf := testKeyFile(t, 1)
	ring := testRing(t, kf, fixedNow)
	srv := NewServer(ring, rand.Reader)
	sc := NewScratch()
	sess, _ := association(t, ring, 2)
	for i, placeholders := range []int{0, 1, 3, 7} {
		before := sess.Cookies()
		req, uid := request(t, sess, placeholders)
		resp, err := answer(t, srv, sc, req)
		if err != nil {
			t.Fatalf("exchange %d: %v", i, err)
		}
		if len(resp) != len(req) {
			t.Errorf("reply of %d bytes to a request of %d", len(resp), len(req))
		}
		if err := sess.CheckReply(resp, uid); err != nil {
			t.Fatalf("exchange %d: CheckReply: %v", i, err)
		}
		if got, want := sess.Cookies(), min(before+placeholders, MaxCookies); got != want {
			t.Errorf("exchange %d: %d cookies after, want %d", i, got, want)
		}
	}
	if sc.NewAssociations != 1 {
		t.Errorf("%d associations built for one client", sc.NewAssociations)
	}
}

func TestVerifyRefuses(t *testing.T) {
	kf := testKeyFile(t, 1)
	ring := testRing(t, kf, fixedNow)
	srv := NewServer(ring, rand.Reader)
	sc := NewScratch()
	sess, _ := association(t, ring, 2)
	authOf := func(req []byte) int { return len(req) - (efHeaderLen + 4 + NonceLen + 16) }
	cookieAt := headerLen + efLen(MinUniqueIDLen) + efHeaderLen

	req, _ := request(t, sess, 0)
	for _, c := range []struct {
		name string
		mod  func([]byte) []byte
		want error
	}{
		{"bad AEAD tag", func(b []byte) []byte { b[authOf(b)+8+NonceLen] ^= 1; return b }, ErrAuth},
		{"tampered header", func(b []byte) []byte { b[40] ^= 1; return b }, ErrAuth},
		{"tampered cookie", func(b []byte) []byte { b[cookieAt+30] ^= 1; return b }, ErrCookie},
		{"unknown key ID", func(b []byte) []byte { b[cookieAt] ^= 0x40; return b }, ErrCookie},
		{"truncated cookie", func(b []byte) []byte {
			// The cookie field four bytes shorter: the fields still walk.
			out := append([]byte(nil), b[:cookieAt]...)
			binary.BigEndian.PutUint16(out[cookieAt-2:], uint16(efLen(CookieLen)-4))
			out = append(out, b[cookieAt:cookieAt+CookieLen-4]...)
			return append(out, b[cookieAt+CookieLen:]...)
		}, ErrCookie},
		{"authenticator not last", func(b []byte) []byte {
			return append(b, 0x09, 0x99, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
		}, ErrFields},
		{"truncated packet", func(b []byte) []byte { return b[:len(b)-4] }, ErrFields},
		{"no NTS at all", func(b []byte) []byte { return b[:headerLen] }, ErrNotNTS},
		{"short UID", func(b []byte) []byte { binary.BigEndian.PutUint16(b[headerLen+2:], 16); return b }, ErrFields},
	} {
		b := c.mod(append([]byte(nil), req...))
		var q Request
		if err := srv.Verify(sc, b, &q); !errors.Is(err, c.want) {
			t.Errorf("%s: Verify = %v, want %v", c.name, err, c.want)
		}
	}
	// The untouched request still verifies: refusals leave no state behind.
	if _, err := answer(t, srv, sc, req); err != nil {
		t.Fatal(err)
	}
}

func TestNAKAndReplay(t *testing.T) {
	kfA, kfB := testKeyFile(t, 1), testKeyFile(t, 9)
	ringA := testRing(t, kfA, fixedNow)
	srvB := NewServer(testRing(t, kfB, fixedNow), rand.Reader)
	sc := NewScratch()
	sess, _ := association(t, ringA, 2)

	// A cookie of another fleet's key: an NTS NAK echoing the UID, which the
	// client recognises.
	req, uid := request(t, sess, 0)
	resp, err := answer(t, srvB, sc, req)
	if !errors.Is(err, ErrCookie) || len(resp) != headerLen+efLen(MinUniqueIDLen) {
		t.Fatalf("foreign cookie: %d-byte reply, %v", len(resp), err)
	}
	if err := sess.CheckReply(resp, uid); !errors.Is(err, ErrNAK) {
		t.Fatalf("CheckReply of a NAK = %v", err)
	}
	// A NAK for another request is not one for this request.
	_, uid2 := request(t, sess, 0)
	if err := sess.CheckReply(resp, uid2); !errors.Is(err, ErrFields) {
		t.Fatalf("CheckReply of someone else's NAK = %v", err)
	}

	// Replay: the server is stateless and answers a replayed request again,
	// but the client never accepts a reply to an earlier request.
	srvA := NewServer(ringA, rand.Reader)
	req1, uid1 := request(t, sess, 0)
	resp1, err := answer(t, srvA, sc, req1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := answer(t, srvA, sc, req1); err != nil {
		t.Fatalf("replayed request: %v", err)
	}
	_, uid3 := request(t, sess, 0)
	if err := sess.CheckReply(resp1, uid3); !errors.Is(err, ErrFields) {
		t.Fatalf("replayed reply accepted: %v", err)
	}
	if err := sess.CheckReply(resp1, uid1); err != nil {
		t.Fatalf("the reply to its own request: %v", err)
	}
	// A forged reply: right UID, wrong key.
	resp1[len(resp1)-1] ^= 1
	if err := sess.CheckReply(resp1, uid1); err == nil {
		t.Fatal("tampered reply accepted")
	}
	// An unauthenticated reply that is not a NAK.
	plain := append([]byte(nil), resp[:headerLen+efLen(MinUniqueIDLen)]...)
	plain[1] = 2
	copy(plain[headerLen+efHeaderLen:], uid)
	if err := sess.CheckReply(plain, uid); !errors.Is(err, ErrAuth) {
		t.Fatalf("unauthenticated reply: %v", err)
	}
}

func TestKeyRotationAndFleet(t *testing.T) {
	kf := testKeyFile(t, 1)
	kf.Rotation, kf.Accept = time.Hour, 2
	rot := int64(3600)
	// Server A and server B: same file, built independently.
	ringA := testRing(t, kf, fixedNow)
	kfB, err := ParseKeyFile(kf.Format())
	if err != nil {
		t.Fatal(err)
	}
	sess, _ := association(t, ringA, 3)
	for _, c := range []struct {
		at   int64
		want error
	}{
		{fixedNow, nil},
		{fixedNow + rot - 1, nil},
		{fixedNow - rot, nil},             // B's clock behind: A's period is its next
		{fixedNow + 2*rot, nil},           // two periods on: still accepted
		{fixedNow + 3*rot, ErrCookie},     // retired
		{fixedNow - 2*rot + 1, ErrCookie}, // from two periods in the future
	} {
		srv := NewServer(testRing(t, kfB, c.at), rand.Reader)
		req, _ := request(t, sess, 0)
		if _, err := answer(t, srv, NewScratch(), req); !errors.Is(err, c.want) {
			t.Errorf("cookie of %d checked at %+d s: %v, want %v", fixedNow, c.at-fixedNow, err, c.want)
		}
	}
	r := testRing(t, kf, fixedNow)
	if r.Len() != 4 || r.Expires() != fixedNow+rot || r.SealKeyID() != KeyID(1, fixedNow/rot) {
		t.Errorf("ring: %d keys, expires %d, seals with %#x", r.Len(), r.Expires(), r.SealKeyID())
	}
}

func TestNoAllocation(t *testing.T) {
	ring := testRing(t, testKeyFile(t, 1), fixedNow)
	srv := NewServer(ring, rand.Reader)
	sc := NewScratch()
	sess, _ := association(t, ring, 2)
	req, _ := request(t, sess, 2)
	bad := append([]byte(nil), req...)
	bad[len(bad)-1] ^= 1
	resp := make([]byte, len(req))
	var q Request
	allocs := testing.AllocsPerRun(1000, func() {
		if err := srv.Verify(sc, req, &q); err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Reply(sc, req, resp, &q); err != nil {
			t.Fatal(err)
		}
		if err := srv.Verify(sc, bad, &q); !errors.Is(err, ErrAuth) {
			t.Fatal(err)
		}
		_ = srv.NAK(bad, resp, &q)
	})
	if allocs != 0 {
		t.Errorf("Verify, Reply and NAK allocate %v times per request", allocs)
	}
}

// FuzzVerify: whatever the packet, Verify and NAK never panic and never read
// or write out of bounds; what verifies gets a reply exactly as long as the
// request that the client side accepts.
func FuzzVerify(f *testing.F) {
	ring := testRing(f, testKeyFile(f, 1), fixedNow)
	srv := NewServer(ring, newSeeded(4))
	sess, keys := association(f, ring, 2)
	for p := range 3 {
		req, _ := request(f, sess, p)
		f.Add(req)
	}
	f.Add(make([]byte, headerLen+16))
	sc := NewScratch()
	f.Fuzz(func(t *testing.T, b []byte) {
		var q Request
		err := srv.Verify(sc, b, &q)
		resp := make([]byte, len(b)+headerLen)
		if err != nil {
			if n := srv.NAK(b, resp, &q); n > len(b) {
				t.Fatalf("NAK of %d bytes to %d", n, len(b))
			}
			return
		}
		n, err := srv.Reply(sc, b, resp, &q)
		if err != nil || n != len(b) {
			t.Fatalf("Reply = %d, %v for %d bytes", n, err, len(b))
		}
		// The client that sent it accepts the reply.
		var uid []byte
		for off := headerLen; off < len(b); {
			fl, _ := nextField(b, off)
			if fl.typ == EFUniqueID {
				uid = b[fl.body : fl.off+fl.n]
			}
			off += fl.n
		}
		// Only the seeds' cookies verify: their association's keys.
		c, _ := NewSession(keys, nil)
		if uid != nil {
			if err := c.CheckReply(resp[:n], uid); err != nil {
				t.Fatalf("client refuses the reply: %v", err)
			}
		}
	})
}
