package client

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/ntp"
)

// fake is an NTP server on loopback, written for the tests: for every request
// it calls its handler, which answers through send (from the server's own
// socket) or sendOther (from a second socket, a different source address).
type fake struct {
	t         *testing.T
	conn      *net.UDPConn
	other     *net.UDPConn
	addr      string
	handler   func(f *fake, req ntp.Header, raw []byte, from netip.AddrPort)
	mu        sync.Mutex
	requests  [][]byte
	lastReply []byte
}

func newFake(t *testing.T, network, host string, handler func(f *fake, req ntp.Header, raw []byte, from netip.AddrPort)) *fake {
	t.Helper()
	conn, err := net.ListenUDP(network, &net.UDPAddr{IP: net.ParseIP(host)})
	if err != nil {
		t.Skipf("no %s loopback: %v", network, err)
	}
	other, err := net.ListenUDP(network, &net.UDPAddr{IP: net.ParseIP(host)})
	if err != nil {
		t.Fatal(err)
	}
	f := &fake{t: t, conn: conn, other: other, addr: conn.LocalAddr().String(), handler: handler}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return // closed
			}
			raw := append([]byte(nil), buf[:n]...)
			f.mu.Lock()
			f.requests = append(f.requests, raw)
			f.mu.Unlock()
			var req ntp.Header
			if req.Decode(raw) != nil {
				continue
			}
			f.handler(f, req, raw, from)
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		other.Close()
		<-done
	})
	return f
}

func (f *fake) send(to netip.AddrPort, b []byte) {
	f.mu.Lock()
	f.lastReply = append([]byte(nil), b...)
	f.mu.Unlock()
	if _, err := f.conn.WriteToUDPAddrPort(b, to); err != nil {
		f.t.Errorf("fake server send: %v", err)
	}
}

func (f *fake) sendOther(to netip.AddrPort, b []byte) {
	if _, err := f.other.WriteToUDPAddrPort(b, to); err != nil {
		f.t.Errorf("fake server send from other socket: %v", err)
	}
}

func (f *fake) requestsSeen() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.requests...)
}

func (f *fake) lastSent() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastReply
}

// goodReply answers req the way a healthy stratum-2 server whose clock is
// ahead by offset would.
func goodReply(req ntp.Header, offset time.Duration) ntp.Header {
	now := time.Now().Add(offset)
	return ntp.Header{
		Leap: ntp.LeapNone, Version: req.Version, Mode: ntp.ModeServer, Stratum: 2,
		Poll: 6, Precision: -20,
		RootDelay: ntp.ShortFromDuration(1500 * time.Microsecond), RootDispersion: ntp.ShortFromDuration(3 * time.Millisecond),
		ReferenceID: 0xc0000201, // 192.0.2.1
		Reference:   ntp.TimestampFromTime(now.Add(-30 * time.Second)),
		Origin:      req.Transmit,
		Receive:     ntp.TimestampFromTime(now),
		Transmit:    ntp.TimestampFromTime(now.Add(20 * time.Microsecond)),
	}
}

func encode(t *testing.T, h ntp.Header) []byte {
	b := make([]byte, ntp.HeaderLen)
	if err := h.Encode(b); err != nil {
		t.Errorf("encode %+v: %v", h, err)
	}
	return b
}

// replyWith returns a handler that answers every request with goodReply
// changed by edit.
func replyWith(offset time.Duration, edit func(*ntp.Header)) func(*fake, ntp.Header, []byte, netip.AddrPort) {
	return func(f *fake, req ntp.Header, _ []byte, from netip.AddrPort) {
		h := goodReply(req, offset)
		if edit != nil {
			edit(&h)
		}
		f.send(from, encode(f.t, h))
	}
}

func TestQueryGood(t *testing.T) {
	const offset = 3 * time.Second
	f := newFake(t, "udp4", "127.0.0.1", replyWith(offset, nil))
	start := time.Now()
	resp, err := Query(context.Background(), f.addr, Options{Timeout: 2 * time.Second})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if !ntptest.OffsetWithin(resp.Offset, offset, resp.Delay) {
		t.Errorf("offset %s, want %s within half the delay %s", resp.Offset, offset, resp.Delay)
	}
	if resp.Delay < 0 || resp.Delay > took+time.Millisecond {
		t.Errorf("delay %s in an exchange of %s", resp.Delay, took)
	}
	if !resp.T1.Before(resp.T4) && !resp.T1.Equal(resp.T4) {
		t.Errorf("T1 %s after T4 %s", resp.T1, resp.T4)
	}
	if got := resp.T3.Sub(resp.T2); got != 20*time.Microsecond {
		t.Errorf("T3-T2 = %s, want 20µs", got)
	}
	// The response carries what the server sent, decoded.
	var sent ntp.Header
	if err := sent.Decode(f.lastSent()); err != nil {
		t.Fatal(err)
	}
	if resp.Header != sent {
		t.Errorf("header\n%+v\nsent\n%+v", resp.Header, sent)
	}
	if resp.RefID() != "192.0.2.1" || resp.Header.Stratum != 2 || resp.Header.Precision != -20 {
		t.Errorf("refid %s stratum %d precision %d", resp.RefID(), resp.Header.Stratum, resp.Header.Precision)
	}
	if got := resp.RootDistance(); got < 3750*time.Microsecond || got > 30*time.Millisecond {
		t.Errorf("root distance %s", got)
	}
	if resp.Addr.String() != f.addr || resp.Server != f.addr {
		t.Errorf("addr %s server %s, want %s", resp.Addr, resp.Server, f.addr)
	}
	// The request: 48 bytes, NTPv4 client mode, a transmit timestamp that is
	// not the send time (random), copied into the reply's origin.
	reqs := f.requestsSeen()
	if len(reqs) != 1 || len(reqs[0]) != ntp.HeaderLen {
		t.Fatalf("requests %x", reqs)
	}
	var req ntp.Header
	_ = req.Decode(reqs[0])
	if req.Version != 4 || req.Mode != ntp.ModeClient || req.Transmit == 0 || req.Transmit != resp.Header.Origin {
		t.Errorf("request %+v", req)
	}
	if d := req.Transmit.Sub(ntp.TimestampFromTime(resp.T1)); d > -time.Minute && d < time.Minute {
		t.Errorf("request's transmit timestamp %#x is the send time: it should be random", req.Transmit)
	}
}

// TestOffsetArithmetic: with a scripted local clock and server timestamps the
// offset and delay are exact to the nanosecond.
func TestOffsetArithmetic(t *testing.T) {
	base := time.Date(2036, 2, 7, 6, 28, 15, 0, time.UTC) // across the era rollover
	t1 := base
	t2 := base.Add(5*time.Second + 10*time.Millisecond)
	t3 := base.Add(5*time.Second + 12*time.Millisecond)
	t4 := base.Add(30 * time.Millisecond)
	f := newFake(t, "udp4", "127.0.0.1", replyWith(0, func(h *ntp.Header) {
		h.Receive = ntp.TimestampFromTime(t2)
		h.Transmit = ntp.TimestampFromTime(t3)
	}))
	reads := []time.Time{t1, t4}
	clock := func() time.Time {
		tm := reads[0]
		if len(reads) > 1 {
			reads = reads[1:]
		}
		return tm
	}
	resp, err := Query(context.Background(), f.addr, Options{Timeout: 2 * time.Second, LocalClock: clock})
	if err != nil {
		t.Fatal(err)
	}
	// ((5.010) + (5.012 - 0.030)) / 2 = 4.996 s; (0.030) - (0.002) = 0.028 s
	if resp.Offset != 4996*time.Millisecond || resp.Delay != 28*time.Millisecond {
		t.Errorf("offset %s delay %s, want 4.996s 28ms", resp.Offset, resp.Delay)
	}
	if !resp.T1.Equal(t1) || !resp.T2.Equal(t2) || !resp.T3.Equal(t3) || !resp.T4.Equal(t4) {
		t.Errorf("timestamps %s %s %s %s", resp.T1, resp.T2, resp.T3, resp.T4)
	}
}

func TestLocalClockInjection(t *testing.T) {
	f := newFake(t, "udp4", "127.0.0.1", replyWith(0, nil))
	behind := func() time.Time { return time.Now().Add(-10 * time.Second) }
	resp, err := Query(context.Background(), f.addr, Options{LocalClock: behind})
	if err != nil {
		t.Fatal(err)
	}
	if !ntptest.OffsetWithin(resp.Offset, 10*time.Second, resp.Delay) {
		t.Errorf("offset %s, want +10s: a local clock behind the server gives a positive offset", resp.Offset)
	}
}

func TestNoAnswer(t *testing.T) {
	f := newFake(t, "udp4", "127.0.0.1", func(*fake, ntp.Header, []byte, netip.AddrPort) {})
	start := time.Now()
	resp, err := Query(context.Background(), f.addr, Options{Timeout: 300 * time.Millisecond})
	if !errors.Is(err, ErrNoAnswer) || resp != nil {
		t.Fatalf("got %v, %v; want ErrNoAnswer", resp, err)
	}
	if el := time.Since(start); el < 300*time.Millisecond || el > 2*time.Second {
		t.Errorf("gave up after %s, timeout 300ms", el)
	}
	t.Log(err)
}

func TestContextDeadlineAndCancel(t *testing.T) {
	f := newFake(t, "udp4", "127.0.0.1", func(*fake, ntp.Header, []byte, netip.AddrPort) {})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Query(ctx, f.addr, Options{Timeout: 10 * time.Second})
	if !errors.Is(err, ErrNoAnswer) || time.Since(start) > 2*time.Second {
		t.Errorf("context deadline: %v after %s", err, time.Since(start))
	}
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start = time.Now()
	_, err = Query(ctx, f.addr, Options{Timeout: 10 * time.Second})
	if !errors.Is(err, context.Canceled) || time.Since(start) > 2*time.Second {
		t.Errorf("cancel: %v after %s", err, time.Since(start))
	}
}

func TestRefused(t *testing.T) {
	// A port with nothing listening: bind one, note it, close it.
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	c.Close()
	start := time.Now()
	_, err = Query(context.Background(), addr, Options{Timeout: 3 * time.Second})
	if !errors.Is(err, ErrNoAnswer) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("got %v, want ErrNoAnswer wrapping ECONNREFUSED", err)
	}
	if time.Since(start) > time.Second {
		t.Errorf("refusal took %s: it should not wait for the timeout", time.Since(start))
	}
}

func TestKissOfDeath(t *testing.T) {
	f := newFake(t, "udp4", "127.0.0.1", replyWith(0, func(h *ntp.Header) {
		h.Stratum, h.ReferenceID = 0, ntp.KissRATE
		h.Receive, h.Transmit = 0, 0 // a KoD need not carry time
	}))
	resp, err := Query(context.Background(), f.addr, Options{Timeout: time.Second})
	var kiss *KissError
	if !errors.As(err, &kiss) || kiss.Code != "RATE" || kiss.RefID != ntp.KissRATE {
		t.Fatalf("got %v, want a RATE KissError", err)
	}
	if resp == nil || resp.Header.Stratum != 0 {
		t.Errorf("response %+v should come with the kiss", resp)
	}
	t.Log(err)
}

// A KoD that does not echo the origin could be spoofed: it is ignored.
func TestKissWithWrongOriginIgnored(t *testing.T) {
	f := newFake(t, "udp4", "127.0.0.1", replyWith(0, func(h *ntp.Header) {
		h.Stratum, h.ReferenceID, h.Origin = 0, ntp.KissDENY, h.Origin+1
	}))
	_, err := Query(context.Background(), f.addr, Options{Timeout: 300 * time.Millisecond})
	var kiss *KissError
	if errors.As(err, &kiss) || !errors.Is(err, ErrOriginMismatch) || !errors.Is(err, ErrNoAnswer) {
		t.Fatalf("got %v, want ErrOriginMismatch and ErrNoAnswer, no kiss", err)
	}
}

func TestOriginMismatch(t *testing.T) {
	f := newFake(t, "udp4", "127.0.0.1", replyWith(0, func(h *ntp.Header) { h.Origin ^= 1 << 40 }))
	resp, err := Query(context.Background(), f.addr, Options{Timeout: 300 * time.Millisecond})
	if !errors.Is(err, ErrOriginMismatch) || resp != nil {
		t.Fatalf("got %v, %v; want ErrOriginMismatch", resp, err)
	}
	t.Log(err)
}

// Bogus replies (wrong origin, wrong mode, short, bad trailer, from another
// port) arriving before the real one are skipped; the real one wins.
func TestBogusRepliesSkipped(t *testing.T) {
	f := newFake(t, "udp4", "127.0.0.1", func(f *fake, req ntp.Header, _ []byte, from netip.AddrPort) {
		wrongOrigin := goodReply(req, time.Hour)
		wrongOrigin.Origin++
		f.send(from, encode(f.t, wrongOrigin))
		wrongMode := goodReply(req, time.Hour)
		wrongMode.Mode = ntp.ModeSymmetricPassive
		f.send(from, encode(f.t, wrongMode))
		wrongVersion := goodReply(req, time.Hour)
		wrongVersion.Version = 7
		f.send(from, encode(f.t, wrongVersion))
		f.send(from, encode(f.t, goodReply(req, time.Hour))[:40])
		badTrailer := append(encode(f.t, goodReply(req, time.Hour)), 1, 2, 3, 4, 5, 6, 7, 8)
		f.send(from, badTrailer)
		f.sendOther(from, encode(f.t, goodReply(req, time.Hour))) // right origin, wrong source
		f.send(from, encode(f.t, goodReply(req, 0)))
	})
	resp, err := Query(context.Background(), f.addr, Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Offset > time.Second || resp.Offset < -time.Second {
		t.Errorf("offset %s: a bogus reply was accepted", resp.Offset)
	}
}

func TestMalformedOnly(t *testing.T) {
	for name, edit := range map[string]func(f *fake, b []byte) []byte{
		"short":       func(_ *fake, b []byte) []byte { return b[:47] },
		"wrong mode":  func(_ *fake, b []byte) []byte { b[0] = b[0]&^7 | ntp.ModeBroadcast; return b },
		"bad trailer": func(_ *fake, b []byte) []byte { return append(b, 0, 0, 0, 0, 0, 0, 0, 0) },
	} {
		f := newFake(t, "udp4", "127.0.0.1", func(f *fake, req ntp.Header, _ []byte, from netip.AddrPort) {
			f.send(from, edit(f, encode(f.t, goodReply(req, 0))))
		})
		_, err := Query(context.Background(), f.addr, Options{Timeout: 200 * time.Millisecond})
		if !errors.Is(err, ErrMalformed) || !errors.Is(err, ErrNoAnswer) {
			t.Errorf("%s: got %v, want ErrMalformed and ErrNoAnswer", name, err)
		}
	}
	// A reply that matches the request but carries no time is an answer,
	// and malformed: reported at once.
	f := newFake(t, "udp4", "127.0.0.1", replyWith(0, func(h *ntp.Header) { h.Transmit = 0 }))
	start := time.Now()
	_, err := Query(context.Background(), f.addr, Options{Timeout: 2 * time.Second})
	if !errors.Is(err, ErrMalformed) || errors.Is(err, ErrNoAnswer) || time.Since(start) > time.Second {
		t.Errorf("zero transmit: got %v after %s", err, time.Since(start))
	}
	// A reply with a MAC after the header is fine.
	f = newFake(t, "udp4", "127.0.0.1", func(f *fake, req ntp.Header, _ []byte, from netip.AddrPort) {
		f.send(from, append(encode(f.t, goodReply(req, 0)), make([]byte, 20)...))
	})
	if _, err := Query(context.Background(), f.addr, Options{Timeout: 2 * time.Second}); err != nil {
		t.Errorf("reply with MAC: %v", err)
	}
}

func TestUnsynchronised(t *testing.T) {
	for _, c := range []struct {
		leap, stratum uint8
	}{{ntp.LeapUnsynchronised, 16}, {ntp.LeapNone, 16}, {ntp.LeapUnsynchronised, 3}, {ntp.LeapNone, 200}} {
		f := newFake(t, "udp4", "127.0.0.1", replyWith(0, func(h *ntp.Header) { h.Leap, h.Stratum = c.leap, c.stratum }))
		resp, err := Query(context.Background(), f.addr, Options{Timeout: time.Second})
		if !errors.Is(err, ErrUnsynchronised) {
			t.Errorf("LI %d stratum %d: got %v, want ErrUnsynchronised", c.leap, c.stratum, err)
			continue
		}
		if resp == nil || resp.Header.Leap != c.leap || resp.Header.Stratum != c.stratum || resp.T3.IsZero() {
			t.Errorf("LI %d stratum %d: response %+v", c.leap, c.stratum, resp)
		}
	}
	// Leap second announcements are not errors.
	for _, li := range []uint8{ntp.LeapInsert, ntp.LeapDelete} {
		f := newFake(t, "udp4", "127.0.0.1", replyWith(0, func(h *ntp.Header) { h.Leap = li }))
		resp, err := Query(context.Background(), f.addr, Options{Timeout: time.Second})
		if err != nil || resp.Header.Leap != li {
			t.Errorf("LI %d: %v", li, err)
		}
	}
}

func TestVersion3AndReuse(t *testing.T) {
	f := newFake(t, "udp4", "127.0.0.1", replyWith(0, nil))
	c, err := Dial(context.Background(), f.addr, Options{Version: 3, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 3 {
		resp, err := c.Query(context.Background())
		if err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
		if resp.Header.Version != 3 {
			t.Errorf("reply version %d", resp.Header.Version)
		}
	}
	reqs := f.requestsSeen()
	if len(reqs) != 3 {
		t.Fatalf("%d requests", len(reqs))
	}
	seen := map[ntp.Timestamp]bool{}
	for _, raw := range reqs {
		var h ntp.Header
		_ = h.Decode(raw)
		if h.Version != 3 || h.Mode != ntp.ModeClient {
			t.Errorf("request version %d mode %d", h.Version, h.Mode)
		}
		if seen[h.Transmit] {
			t.Errorf("transmit timestamp %#x repeated", h.Transmit)
		}
		seen[h.Transmit] = true
	}
	if _, err := Dial(context.Background(), f.addr, Options{Version: 6}); err == nil {
		t.Error("version 6 accepted")
	}
}

// A late reply to an earlier, timed-out query on the same client is not taken
// for the answer to the next one.
func TestStaleReplyIgnored(t *testing.T) {
	var mu sync.Mutex
	var first *ntp.Header
	f := newFake(t, "udp4", "127.0.0.1", func(f *fake, req ntp.Header, _ []byte, from netip.AddrPort) {
		mu.Lock()
		defer mu.Unlock()
		if first == nil { // hold the first request's reply back
			h := goodReply(req, time.Hour)
			first = &h
			return
		}
		f.send(from, encode(f.t, *first)) // stale, then fresh
		f.send(from, encode(f.t, goodReply(req, 0)))
	})
	c, err := Dial(context.Background(), f.addr, Options{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Query(context.Background()); !errors.Is(err, ErrNoAnswer) {
		t.Fatalf("first query: %v", err)
	}
	resp, err := c.Query(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if resp.Offset > time.Second {
		t.Errorf("stale reply accepted: offset %s", resp.Offset)
	}
}

func TestIPv6(t *testing.T) {
	f := newFake(t, "udp6", "::1", replyWith(time.Second, nil))
	_, port, _ := net.SplitHostPort(f.addr)
	resp, err := Query(context.Background(), "[::1]:"+port, Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Addr.Addr() != netip.IPv6Loopback() {
		t.Errorf("addr %s", resp.Addr)
	}
	var p int
	for _, c := range port {
		p = p*10 + int(c-'0')
	}
	if _, err := Query(context.Background(), "::1", Options{Port: p, Timeout: time.Second}); err != nil {
		t.Errorf("bare ::1 with Options.Port: %v", err)
	}
}
