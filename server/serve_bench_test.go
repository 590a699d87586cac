package server

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/leapsmear/leapsmear/internal/mmsg"
	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/loadgen"
	"github.com/leapsmear/leapsmear/ntp"
	"github.com/leapsmear/leapsmear/ratelimit"
	"github.com/leapsmear/leapsmear/smear"
	"github.com/leapsmear/leapsmear/timescale"
)

// The serving path, measured: the reply to one request (Respond), the work
// of one batch without the system calls (handle), and a real Server on
// loopback driven by the batched load generator. Run with
//
//	go test -run Allocs -bench . -benchmem ./server/
//
// Each op of BenchmarkHandle and BenchmarkServeLoopback is one packet, so
// allocs/op is allocations per packet; both must be 0.

// benchResponder serves the host clock (assumed synchronised) with the
// embedded leap table and the default policy, as `leapsmear serve` does.
func benchResponder(tb testing.TB) *Responder { return benchResponderLimited(tb, nil) }

// benchResponderLimited is benchResponder with a rate limiter (nil: none).
func benchResponderLimited(tb testing.TB, limiter Limiter) *Responder {
	tb.Helper()
	table := leap.Default()
	src, err := timescale.NewSystem(timescale.Config{Table: table, AssumeSynced: true, CheckInterval: -1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { src.Close() })
	r := NewResponder(src, ntptest.Smear(tb, table, smear.DefaultPolicy), Settings{Stratum: 2, RefID: 0x4c534d52, Precision: -20, RootDispersion: time.Millisecond}, limiter)
	r.SetBroadcasts(benchBroadcasts)
	return r
}

// benchBroadcasts are the directed broadcasts of a host with lo and three
// subnets, refused as a Server refuses its host's.
var benchBroadcasts = DirectedBroadcasts([]netip.Prefix{netip.MustParsePrefix("127.0.0.1/8"),
	netip.MustParsePrefix("192.0.2.2/24"), netip.MustParsePrefix("10.0.0.1/16"), netip.MustParsePrefix("172.17.0.1/16")})

// generousLimiter is a real rate limiter that lets every request of the
// benchmarks through, so that they measure its cost on the answered path.
func generousLimiter(tb testing.TB) Limiter {
	tb.Helper()
	l, err := ratelimit.New(ratelimit.Config{Rate: 1e9, Burst: 1 << 30, KissInterval: time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

// clientRequest is an NTPv4 client request with the given transmit stamp.
func clientRequest(transmit uint64) [ntp.HeaderLen]byte {
	var b [ntp.HeaderLen]byte
	h := ntp.Header{Version: 4, Mode: ntp.ModeClient, Poll: 6, Transmit: ntp.Timestamp(transmit)}
	_ = h.Encode(b[:])
	return b
}

// putTimestamp writes an SCM_TIMESTAMPNS control message as the kernel does
// and returns its length.
func putTimestamp(oob []byte, ns int64) int {
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level, h.Type = unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS
	h.SetLen(unix.CmsgLen(16))
	ts := (*unix.Timespec)(unsafe.Pointer(&oob[unix.CmsgLen(0)]))
	*ts = unix.NsecToTimespec(ns)
	return unix.CmsgSpace(16)
}

// benchSocket is a socket without a descriptor whose batch holds n requests
// as recvmmsg leaves them: from 127.0.0.1, kernel timestamp rx.
func benchSocket(tb testing.TB, r *Responder, n int, rx int64) *socket {
	tb.Helper()
	s := &socket{r: r}
	s.initBuffers()
	for i := range n {
		sl := &s.slots[i]
		m := &s.rmsgs[i]
		req := clientRequest(0x1234_5678_0000_0000 + uint64(i))
		copy(sl.req[:], req[:])
		m.Len = ntp.HeaderLen
		m.Hdr.Namelen = mmsg.PutSockaddr(&sl.name, netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(40000+i)))
		m.Hdr.SetControllen(putTimestamp(sl.oob[:], rx))
	}
	return s
}

// refreshTimestamps moves the kernel timestamps of the batch to rx.
func (s *socket) refreshTimestamps(n int, rx int64) {
	for i := range n {
		putTimestamp(s.slots[i].oob[:], rx)
	}
}

// TestHandleBatch checks the replies handle builds for a batch, and the
// per-batch tallies, including requests it must drop.
func TestHandleBatch(t *testing.T) {
	r := benchResponder(t)
	rx := time.Now().UnixNano()
	s := benchSocket(t, r, batchSize, rx)
	// Three requests to drop: from port 0, truncated, and a mode 6 query.
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&s.slots[3].name.Port))[:], 0)
	s.rmsgs[7].Hdr.Flags = unix.MSG_TRUNC
	s.slots[9].req[0] = 4<<3 | 6
	s.handle(batchSize)

	if s.nwrite != batchSize-3 {
		t.Fatalf("%d replies to %d requests with 3 to drop", s.nwrite, batchSize)
	}
	st := &s.stats
	if st.received.Load() != batchSize || st.verdicts[Answered].Load() != batchSize-3 ||
		st.verdicts[DropSource].Load() != 1 || st.verdicts[DropMalformed].Load() != 1 || st.verdicts[DropMode].Load() != 1 {
		t.Errorf("tallies: received %d answered %d source %d malformed %d mode %d", st.received.Load(),
			st.verdicts[Answered].Load(), st.verdicts[DropSource].Load(), st.verdicts[DropMalformed].Load(), st.verdicts[DropMode].Load())
	}
	served := r.Smear().Served(r.clock.Now().TAI).UnixNano()
	for k := 0; k < s.nwrite; k++ {
		w := &s.wmsgs[k]
		i := int((uintptr(unsafe.Pointer(w.Hdr.Iov.Base)) - uintptr(unsafe.Pointer(&s.slots[0].reply[0]))) / unsafe.Sizeof(s.slots[0]))
		if i == 3 || i == 7 || i == 9 {
			t.Fatalf("reply %d built for dropped request %d", k, i)
		}
		if w.Hdr.Name != (*byte)(unsafe.Pointer(&s.slots[i].name)) || w.Hdr.Namelen != unix.SizeofSockaddrInet4 || w.Hdr.Control != nil {
			t.Fatalf("reply %d: not addressed to its request's source", k)
		}
		var h ntp.Header
		if err := h.Decode(unsafe.Slice(w.Hdr.Iov.Base, w.Hdr.Iov.Len)); err != nil {
			t.Fatal(err)
		}
		if h.Mode != ntp.ModeServer || h.Version != 4 || h.Stratum != 2 || h.Leap != 0 {
			t.Errorf("reply %d: mode %d version %d stratum %d leap %d", k, h.Mode, h.Version, h.Stratum, h.Leap)
		}
		if want := ntp.Timestamp(0x1234_5678_0000_0000 + uint64(i)); h.Origin != want {
			t.Errorf("reply %d: origin %v, want request %d's transmit %v", k, h.Origin, i, want)
		}
		recv := h.Receive.UnixNano(rx)
		if d := served - recv; d < 0 || d > int64(time.Second) {
			t.Errorf("reply %d: receive time %d is %v before now, want the kernel timestamp's", k, recv, time.Duration(d))
		}
		if xmt := h.Transmit.UnixNano(rx); xmt < recv {
			t.Errorf("reply %d: transmit %d before receive %d", k, xmt, recv)
		}
	}
}

// TestHandleAllocs: building the replies to a batch allocates nothing, with
// and without a rate limiter.
func TestHandleAllocs(t *testing.T) {
	for _, limited := range []bool{false, true} {
		var limiter Limiter
		if limited {
			limiter = generousLimiter(t)
		}
		s := benchSocket(t, benchResponderLimited(t, limiter), batchSize, time.Now().UnixNano())
		if a := testing.AllocsPerRun(200, func() { s.handle(batchSize) }); a != 0 {
			t.Fatalf("limiter %v: handle allocates %v times per batch of %d", limited, a, batchSize)
		}
		if s.nwrite != batchSize {
			t.Fatalf("limiter %v: %d replies", limited, s.nwrite)
		}
	}
}

// TestRespondAllocs: the reply to one request allocates nothing.
func TestRespondAllocs(t *testing.T) {
	r := benchResponder(t)
	req := clientRequest(42)
	var resp [ntp.HeaderLen]byte
	rx := time.Now().UnixNano()
	if a := testing.AllocsPerRun(1000, func() {
		if n, v := respond(r, req[:], resp[:], rx); n != ntp.HeaderLen || v != Answered {
			t.Fatalf("Respond: %d %v", n, v)
		}
	}); a != 0 {
		t.Fatalf("Respond allocates %v times", a)
	}
}

// TestServeLoopbackAllocs: a real server answering a load generator over
// loopback allocates nothing per packet or per batch. Allocations counted
// over the whole process (server and generator) for 200000 requests, some
// 3000 batches each way, stay below what a single allocation per batch
// would add up to.
func TestServeLoopbackAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	srv, addr := startBenchServer(t, 2)
	const requests = 200000
	run := func(n uint64) (loadgen.Result, uint64) {
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		res, err := loadgen.Run(context.Background(), loadgen.Config{Target: addr, Duration: 30 * time.Second,
			Requests: n, Workers: 2, Window: 128})
		runtime.ReadMemStats(&m1)
		if err != nil {
			t.Fatal(err)
		}
		return res, m1.Mallocs - m0.Mallocs
	}
	run(1000) // warm up: first-use allocations of the runtime and the poller
	res, mallocs := run(requests)
	if res.Answered < requests*99/100 {
		t.Fatalf("answered %d of %d", res.Answered, requests)
	}
	if st := srv.Stats(); st.Answered() < res.Answered {
		t.Fatalf("server answered %d, generator counted %d", st.Answered(), res.Answered)
	}
	t.Logf("%d requests answered at %.0f/s: %d allocations in the process (generator set-up included)", res.Answered, res.AnsweredPerSecond(), mallocs)
	if mallocs > 1000 {
		t.Fatalf("%d allocations for %d requests (%.4f per request): serving or loading allocates per batch or per packet",
			mallocs, requests, float64(mallocs)/requests)
	}
}

// startBenchServer serves on an ephemeral loopback port with n sockets.
func startBenchServer(tb testing.TB, n int) (*Server, netip.AddrPort) {
	tb.Helper()
	srv, err := New(context.Background(), Config{Listen: []string{"127.0.0.1:0"}, SocketsPerAddress: n}, benchResponder(tb))
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	tb.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil {
			tb.Error(err)
		}
	})
	return srv, srv.Addrs()[0]
}

func BenchmarkRespond(b *testing.B) {
	r := benchResponder(b)
	req := clientRequest(42)
	var resp [ntp.HeaderLen]byte
	rx := time.Now().UnixNano()
	b.ReportAllocs()
	for b.Loop() {
		respond(r, req[:], resp[:], rx)
	}
}

// BenchmarkHandle is the user-space work per packet inside a full batch:
// source, control messages, the reply (smear included), its header, and the
// transmit stamp, without the system calls; with a rate limiter, the
// source's hash and the limiter's decision too.
func BenchmarkHandle(b *testing.B) {
	for _, limited := range []bool{false, true} {
		b.Run(fmt.Sprintf("limiter=%v", limited), func(b *testing.B) {
			var limiter Limiter
			if limited {
				limiter = generousLimiter(b)
			}
			s := benchSocket(b, benchResponderLimited(b, limiter), batchSize, time.Now().UnixNano())
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += batchSize {
				if i&(1<<16-1) == 0 {
					s.refreshTimestamps(batchSize, time.Now().UnixNano())
				}
				s.handle(batchSize)
			}
		})
	}
}

// BenchmarkServeLoopback is a real server with 1 and 2 SO_REUSEPORT sockets
// answering the batched load generator, both in this process and on the
// same cores. ns/op is per request; answered/s is the throughput.
func BenchmarkServeLoopback(b *testing.B) {
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("sockets=%d", n), func(b *testing.B) {
			_, addr := startBenchServer(b, n)
			b.ReportAllocs()
			b.ResetTimer()
			res, err := loadgen.Run(context.Background(), loadgen.Config{Target: addr, Duration: loadgen.MaxDuration,
				Requests: uint64(b.N), Workers: 4, Window: 64})
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			if res.Answered < res.Sent*99/100 {
				b.Fatalf("answered %d of %d", res.Answered, res.Sent)
			}
			b.ReportMetric(res.AnsweredPerSecond(), "answered/s")
			b.ReportMetric(float64(res.Latency.Quantile(0.99).Microseconds()), "p99-us")
		})
	}
}
