// Package loadgen drives an NTP server with client requests, as hard as it
// answers or at a fixed rate, for a bounded time: each worker owns a
// connected UDP socket, sends its requests in sendmmsg batches with random
// transmit timestamps, reads the replies in recvmmsg batches and matches
// each to its request by the origin timestamp. Nothing is allocated per
// request: the in-flight table and the latency histogram are fixed arrays.
//
// It is a tool for benchmarking one's own servers on loopback; Run refuses
// other targets unless Config.AllowRemote is set.
package loadgen

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/leapsmear/leapsmear/internal/mmsg"
	"github.com/leapsmear/leapsmear/internal/option"
	"github.com/leapsmear/leapsmear/internal/rxstamp"
	"github.com/leapsmear/leapsmear/ntp"
)

// Bounds and defaults of Config.
const (
	// MaxDuration bounds a run.
	MaxDuration = 60 * time.Second
	// DefaultWorkers is the number of sockets when Config.Workers is 0.
	DefaultWorkers = 2
	// DefaultWindow is the requests in flight per worker when
	// Config.Window is 0.
	DefaultWindow = 128
	// MaxWindow bounds Config.Window.
	MaxWindow = 4096
	// DefaultTimeout is how long a request waits for its reply when
	// Config.Timeout is 0.
	DefaultTimeout = time.Second
	// batch is the most datagrams one sendmmsg or recvmmsg moves.
	batch = 64
	// replyBuf is the receive buffer per reply; a reply longer than its
	// request is not a valid answer, and is counted as malformed.
	replyBuf = 1024
	oobSize  = 128
)

// Config is one load run.
type Config struct {
	// Target is the server's address.
	Target netip.AddrPort
	// Duration is how long requests are sent, at most MaxDuration. After
	// it the replies still in flight are awaited for up to Timeout.
	Duration time.Duration
	// Requests, when not 0, stops sending after that many requests (over
	// all workers), even before Duration.
	Requests uint64
	// Workers is the number of sockets, each with its own goroutine; 0
	// means DefaultWorkers.
	Workers int
	// Window is how many requests each worker keeps in flight; 0 means
	// DefaultWindow.
	Window int
	// Rate caps the requests per second over all workers (a token bucket);
	// 0 sends as fast as replies free the window.
	Rate float64
	// Timeout is how long a request waits for its reply before it counts
	// as lost; 0 means DefaultTimeout.
	Timeout time.Duration
	// AllowRemote permits a target outside the loopback network.
	AllowRemote bool
	// Templates, when set, are the requests sent instead of plain ones:
	// complete packets (NTS-authenticated ones, built once each), every one
	// with its own transmit timestamp, which matches its reply. They are
	// shared out between the workers, each of which needs more than Window
	// of them; a template is sent again once its reply came or it timed
	// out.
	Templates [][]byte
}

// Result is what a run measured.
type Result struct {
	// Sent counts requests handed to the kernel.
	Sent uint64
	// Answered counts valid replies matched to a request in time.
	Answered uint64
	// Kissed counts Kiss-o'-Death replies (not answered).
	Kissed uint64
	// Unmatched counts replies whose origin timestamp matched no request in
	// flight (late after their timeout, duplicated, or forged).
	Unmatched uint64
	// Malformed counts datagrams that were not a valid NTP server reply.
	Malformed uint64
	// Errors counts failed sends and receives (such as ECONNREFUSED when
	// nothing listens on the target); LastError is the last of them.
	Errors    uint64
	LastError error
	// Elapsed is how long requests were sent.
	Elapsed time.Duration
	// CPU is the user plus system time this process used during the run
	// (the generator itself, when it runs alone in its process).
	CPU time.Duration
	// Latency holds the round-trip times of answered requests, from the
	// moment the request left to the kernel's receive timestamp of its
	// reply.
	Latency Histogram
}

// AnsweredPerSecond is Answered over Elapsed.
func (r *Result) AnsweredPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Answered) / r.Elapsed.Seconds()
}

// MaxWorkers is the largest Config.Workers.
const MaxWorkers = 256

// CheckTarget refuses a target outside loopback (127.0.0.0/8, ::1) unless
// allowRemote, and a zero port.
func CheckTarget(t netip.AddrPort, allowRemote bool) error {
	if !t.IsValid() || t.Port() == 0 {
		return option.Errorf("target", t, "want host:port with a port")
	}
	if !t.Addr().Unmap().IsLoopback() && !allowRemote {
		return option.Errorf("target", t.Addr(), "not a loopback address: load tests are for your own servers")
	}
	return nil
}

// WithDefaults returns c with its zero Workers, Window and Timeout set to
// the defaults.
func (c Config) WithDefaults() Config {
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

// Validate checks every field of c as given (zero values included: apply
// WithDefaults first to fill them). Its errors are *option.Error, named
// after the field in lower case.
func (c Config) Validate() error {
	if err := CheckTarget(c.Target, c.AllowRemote); err != nil {
		return err
	}
	switch {
	case c.Duration <= 0 || c.Duration > MaxDuration:
		return option.Errorf("duration", c.Duration, "want more than 0 and at most %s", MaxDuration)
	case c.Workers < 1 || c.Workers > MaxWorkers:
		return option.Errorf("workers", c.Workers, "want 1 to %d", MaxWorkers)
	case c.Window < 1 || c.Window > MaxWindow:
		return option.Errorf("window", c.Window, "want 1 to %d", MaxWindow)
	case c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0):
		return option.Errorf("rate", c.Rate, "want 0 (unlimited) or a positive number")
	case c.Timeout <= 0:
		return option.Errorf("timeout", c.Timeout, "want a positive duration")
	}
	if len(c.Templates) > 0 {
		if len(c.Templates) < c.Workers*(c.Window+1) {
			return option.Errorf("templates", len(c.Templates), "%d request templates: want more than window x workers (%d)", len(c.Templates), c.Workers*c.Window)
		}
		seen := map[uint64]bool{}
		for _, t := range c.Templates {
			if len(t) < ntp.HeaderLen || len(t) > replyBuf {
				return option.Errorf("templates", len(t), "request template of %d bytes", len(t))
			}
			ts := binary.BigEndian.Uint64(t[40:ntp.HeaderLen])
			if ts == 0 || seen[ts] {
				return option.Errorf("templates", len(c.Templates), "request templates need distinct non-zero transmit timestamps")
			}
			seen[ts] = true
		}
	}
	return nil
}

// Run loads cfg.Target until cfg.Duration (or cfg.Requests) is reached or
// ctx is done, waits for the replies in flight, and returns the tallies.
func Run(ctx context.Context, cfg Config) (Result, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	target := net.UDPAddrFromAddrPort(cfg.Target)
	workers := make([]*worker, cfg.Workers)
	for i := range workers {
		w, err := newWorker(target, cfg, i)
		if err != nil {
			for _, w := range workers[:i] {
				w.conn.Close()
			}
			return Result{}, err
		}
		workers[i] = w
	}
	defer func() {
		for _, w := range workers {
			w.conn.Close()
		}
	}()

	sh := &shared{budget: cfg.Requests}
	cpu0 := processCPU()
	start := time.Now()
	sh.start = start
	sh.stopSend = start.Add(cfg.Duration)
	sh.stopWait = sh.stopSend.Add(cfg.Timeout)
	stopWatch := context.AfterFunc(ctx, func() { sh.cancelled.Store(true) })
	defer stopWatch()

	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() { w.run(sh) })
	}
	wg.Wait()

	res := Result{CPU: processCPU() - cpu0}
	res.Elapsed = time.Duration(sh.sendEnd.Load())
	if res.Elapsed <= 0 {
		res.Elapsed = time.Since(start)
	}
	for _, w := range workers {
		res.Sent += w.res.Sent
		res.Answered += w.res.Answered
		res.Kissed += w.res.Kissed
		res.Unmatched += w.res.Unmatched
		res.Malformed += w.res.Malformed
		res.Errors += w.res.Errors
		if w.res.LastError != nil {
			res.LastError = w.res.LastError
		}
		res.Latency.Merge(&w.res.Latency)
	}
	if err := ctx.Err(); err != nil && res.Sent == 0 {
		return res, err
	}
	return res, nil
}

// shared is what the workers of one run share.
type shared struct {
	start              time.Time
	stopSend, stopWait time.Time
	cancelled          atomic.Bool
	// budget is the requests left when Config.Requests is set.
	budget uint64
	taken  atomic.Uint64
	// sendEnd is when the last worker stopped sending, since start (ns).
	sendEnd atomic.Int64
}

// reserve takes up to n requests from the budget and returns how many.
func (s *shared) reserve(n int) int {
	if s.budget == 0 {
		return n
	}
	after := s.taken.Add(uint64(n))
	if after <= s.budget {
		return n
	}
	over := after - s.budget
	if over >= uint64(n) {
		return 0
	}
	return n - int(over)
}

// entry is one request in flight: its transmit timestamp (0 for a free
// entry) and when it left (realtime ns, the clock of kernel timestamps).
type entry struct {
	ts   uint64
	sent int64
}

// worker is one socket with its buffers, in-flight table and tallies.
type worker struct {
	conn    *net.UDPConn
	mc      *mmsg.Conn
	cfg     Config
	rng     *rand.PCG
	perTick float64 // tokens per nanosecond when rate-limited

	table    []entry // in flight, indexed by hashSlot of the timestamp
	mask     uint64
	inflight int

	req   [batch][ntp.HeaderLen]byte
	wiov  [batch]unix.Iovec
	wmsgs [batch]mmsg.Msg
	slot  [batch]int // table index of each request of the batch being sent

	rep   [batch][replyBuf]byte
	oob   [batch][oobSize]byte
	riov  [batch]unix.Iovec
	rmsgs [batch]mmsg.Msg

	res Result

	// templates mode: this worker's share, the next to try, and the longest.
	templates [][]byte
	next      int
	maxReq    int
}

func newWorker(target *net.UDPAddr, cfg Config, i int) (*worker, error) {
	conn, err := net.DialUDP("udp", nil, target)
	if err != nil {
		return nil, fmt.Errorf("socket to %s: %w", target, err)
	}
	mc, err := mmsg.NewConn(conn)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("socket to %s: %w", target, err)
	}
	var serr error
	if err := mc.Raw().Control(func(fd uintptr) {
		serr = rxstamp.Enable(fd)
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, 1<<20)
	}); err != nil || serr != nil {
		conn.Close()
		return nil, fmt.Errorf("socket to %s: receive timestamps: %w", target, errors.Join(err, serr))
	}
	size := 1
	for size < 4*cfg.Window {
		size <<= 1
	}
	seed := uint64(time.Now().UnixNano())
	w := &worker{conn: conn, mc: mc, cfg: cfg,
		rng:   rand.NewPCG(seed, uint64(i)*0x9e3779b97f4a7c15+1),
		table: make([]entry, size), mask: uint64(size - 1)}
	if cfg.Rate > 0 {
		w.perTick = cfg.Rate / float64(cfg.Workers) / 1e9
	}
	// A client request: LI 0, version 4, mode 3; only the transmit
	// timestamp changes from one request to the next.
	hdr := ntp.Header{Version: ntp.Version4, Mode: ntp.ModeClient, Poll: 6, Precision: -20}
	for j := range w.req {
		_ = hdr.Encode(w.req[j][:])
		w.wmsgs[j].Set(&w.wiov[j], w.req[j][:], nil, nil)
		w.rmsgs[j].Set(&w.riov[j], w.rep[j][:], nil, w.oob[j][:])
	}
	w.maxReq = ntp.HeaderLen
	for j := i; j < len(cfg.Templates); j += cfg.Workers {
		w.templates = append(w.templates, cfg.Templates[j])
		w.maxReq = max(w.maxReq, len(cfg.Templates[j]))
	}
	return w, nil
}

// hashSlot spreads a timestamp over the table (Fibonacci hashing: the
// timestamps are random, but a reply's origin need not be).
func (w *worker) hashSlot(ts uint64) uint64 {
	return (ts * 0x9e3779b97f4a7c15) >> 32 & w.mask
}

// run sends and receives until the shared deadlines.
func (w *worker) run(sh *shared) {
	tokens := 0.0
	last := time.Now()
	nextScan := last.Add(w.cfg.Timeout / 4)
	var deadline time.Time
	sending := true
	for {
		now := time.Now()
		if sending && (!now.Before(sh.stopSend) || sh.cancelled.Load()) {
			sending = false
			sh.noteSendEnd(now)
		}
		if !sending && (w.inflight == 0 || !now.Before(sh.stopWait) || sh.cancelled.Load()) {
			return
		}
		if !now.Before(nextScan) {
			w.expire(now.UnixNano() - int64(w.cfg.Timeout))
			nextScan = now.Add(w.cfg.Timeout / 4)
		}
		wake := nextScan
		if sending {
			room := w.cfg.Window - w.inflight
			if w.perTick > 0 {
				tokens = min(tokens+float64(now.Sub(last))*w.perTick, float64(batch))
				last = now
				room = min(room, int(tokens))
			}
			room = sh.reserve(min(room, batch))
			if room == 0 && sh.budget != 0 && sh.taken.Load() >= sh.budget {
				sending = false
				sh.noteSendEnd(now)
				continue
			}
			if room > 0 {
				w.send(room)
				tokens -= float64(room)
			}
			if w.perTick > 0 && w.inflight < w.cfg.Window {
				// Wake when a batch's worth of tokens (or at least 1 ms of
				// them) has accrued, to send in batches.
				if need := min(float64(batch), max(1, 1e6*w.perTick)) - tokens; need > 0 {
					wake = earliest(wake, now.Add(time.Duration(need/w.perTick)))
				}
			}
			wake = earliest(wake, sh.stopSend)
		} else {
			wake = earliest(wake, sh.stopWait)
		}
		if w.inflight == 0 && !sending {
			return
		}
		if !wake.After(now) {
			wake = now.Add(50 * time.Microsecond)
		}
		// Move the read deadline only when it would wake us too late or far
		// too early, or has passed (a read past its deadline does not even
		// look at the socket): setting it costs a little.
		if !deadline.After(now) || deadline.After(wake) || wake.Sub(deadline) > time.Millisecond {
			deadline = wake
			_ = w.conn.SetReadDeadline(deadline)
		}
		if w.inflight == 0 {
			// Nothing to wait for but tokens or the end.
			time.Sleep(time.Until(wake))
			continue
		}
		w.receive()
	}
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// noteSendEnd records when sending stopped; the last worker's time wins.
func (s *shared) noteSendEnd(now time.Time) {
	d := int64(now.Sub(s.start))
	for {
		cur := s.sendEnd.Load()
		if d <= cur || s.sendEnd.CompareAndSwap(cur, d) {
			return
		}
	}
}

// send builds n requests with fresh random transmit timestamps, enters them
// in the table and sends them with sendmmsg.
func (w *worker) send(n int) {
	if w.templates != nil {
		n = w.pickTemplates(n)
		if n == 0 {
			return
		}
	}
	for i := 0; i < n && w.templates == nil; i++ {
		var ts, slot uint64
		for {
			ts = w.rng.Uint64()
			slot = w.hashSlot(ts)
			if ts != 0 && w.table[slot].ts == 0 {
				break // at most a quarter of the table is in use
			}
		}
		w.table[slot].ts = ts
		w.slot[i] = int(slot)
		binary.BigEndian.PutUint64(w.req[i][40:ntp.HeaderLen], ts)
	}
	t0 := time.Now().UnixNano()
	failed, err := w.mc.Send(w.wmsgs[:n])
	t1 := time.Now().UnixNano()
	// The datagrams left one after the other during the call: spread the
	// departure times over it.
	for i := 0; i < n; i++ {
		w.table[w.slot[i]].sent = t0 + (t1-t0)*int64(i)/int64(n)
	}
	w.inflight += n
	w.res.Sent += uint64(n - failed)
	w.res.Errors += uint64(failed)
	if err != nil {
		// The socket is closed or its write deadline passed: the requests
		// were not all sent; they time out like lost ones.
		w.res.Errors++
	}
}

// pickTemplates points the first n (at most) messages of the batch at
// templates not in flight and enters them in the table; it returns how many.
func (w *worker) pickTemplates(n int) int {
	k := 0
	for tries := 0; k < n && tries < len(w.templates); tries++ {
		t := w.templates[w.next]
		w.next = (w.next + 1) % len(w.templates)
		ts := binary.BigEndian.Uint64(t[40:ntp.HeaderLen])
		slot := w.hashSlot(ts)
		if w.table[slot].ts != 0 {
			continue // in flight, or its slot is taken by another
		}
		w.table[slot].ts = ts
		w.slot[k] = int(slot)
		w.wmsgs[k].Set(&w.wiov[k], t, nil, nil)
		k++
	}
	return k
}

// receive reads one batch of replies, waiting up to the read deadline.
func (w *worker) receive() {
	n, err := w.mc.Recv(w.rmsgs[:])
	if err != nil {
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			w.res.Errors++
			w.res.LastError = err
		}
		return
	}
	var fallback int64
	for i := 0; i < n; i++ {
		m := &w.rmsgs[i]
		w.match(w.rep[i][:m.Len], m, &fallback, i)
	}
	mmsg.ResetRecv(w.rmsgs[:n], oobSize)
}

// match checks one reply and takes its request out of the table.
func (w *worker) match(b []byte, m *mmsg.Msg, fallback *int64, i int) {
	if m.Truncated() || len(b) < ntp.HeaderLen || len(b) > w.maxReq || b[0]&7 != ntp.ModeServer {
		w.res.Malformed++
		return
	}
	origin := binary.BigEndian.Uint64(b[24:32])
	slot := w.hashSlot(origin)
	e := &w.table[slot]
	if origin == 0 || e.ts != origin {
		w.res.Unmatched++
		return
	}
	e.ts = 0
	w.inflight--
	if b[1] == 0 {
		w.res.Kissed++
		return
	}
	rx := mmsg.ParseControl(m.Control(w.oob[i][:])).Rx
	if rx == 0 {
		if *fallback == 0 {
			*fallback = time.Now().UnixNano()
		}
		rx = *fallback
	}
	w.res.Answered++
	w.res.Latency.Record(time.Duration(rx - e.sent))
}

// expire frees the requests sent before cutoff (realtime ns): lost.
func (w *worker) expire(cutoff int64) {
	if w.inflight == 0 {
		return
	}
	for i := range w.table {
		e := &w.table[i]
		if e.ts != 0 && e.sent < cutoff {
			e.ts = 0
			w.inflight--
		}
	}
}

// processCPU returns the user plus system time of this process.
func processCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
