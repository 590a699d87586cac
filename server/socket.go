package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/leapsmear/leapsmear/internal/mmsg"
	"github.com/leapsmear/leapsmear/internal/rxstamp"
	"github.com/leapsmear/leapsmear/ntp"
	"github.com/leapsmear/leapsmear/timescale"
)

const (
	// batchSize is how many datagrams one recvmmsg or sendmmsg moves.
	batchSize = 64
	// maxRequest is the largest request read whole; longer ones arrive
	// truncated and are dropped as malformed.
	maxRequest = 1024
	// oobSize holds a timestamp and a packet-info control message.
	oobSize = 128
)

// slot is one datagram of a batch, with the reply built in place.
type slot struct {
	req   [maxRequest]byte
	oob   [oobSize]byte
	name  unix.RawSockaddrInet6 // large enough for IPv4 and IPv6 sources
	reply [maxRequest]byte      // a plain reply is 48 bytes, an NTS reply as long as its request
	// replyOOB carries the packet-info that makes the reply leave from the
	// address the request was sent to (sockets bound to a wildcard address).
	replyOOB [oobSize]byte
	riov     unix.Iovec
	wiov     unix.Iovec
}

// counters are one socket's tallies; the socket's goroutine is the only
// writer (once per batch), readers sum them over sockets.
type counters struct {
	received atomic.Uint64
	verdicts [numVerdicts]atomic.Uint64
	errors   atomic.Uint64
	// sendDropped counts replies dropped because the send buffer was full.
	sendDropped atomic.Uint64
	_           [64]byte // keep sockets' counters on separate cache lines
}

// socket is one UDP socket with its batch buffers. Everything a packet needs
// is allocated once here, so that serving allocates nothing.
type socket struct {
	conn    *net.UDPConn
	mc      *mmsg.Conn
	addr    netip.AddrPort
	v6      bool
	pktinfo bool
	r       *Responder

	slots [batchSize]slot
	rmsgs [batchSize]mmsg.Msg
	// wtmpl[i] is the reply header of slot i; the replies of a batch are
	// copied from it into wmsgs, skipping the requests left unanswered.
	wtmpl  [batchSize]mmsg.Msg
	wmsgs  [batchSize]mmsg.Msg
	nwrite int
	// ntsSlots hold the NTS state of each slot's request; sealed[j] says
	// which slot the j-th reply of the batch came from when it must be
	// sealed by SealNTS (-1 when it is a plain reply).
	ntsSlots []NTSSlot
	sealed   [batchSize]int16

	stats counters
}

func newSocket(conn *net.UDPConn, r *Responder, l listener) (*socket, error) {
	mc, err := mmsg.NewConn(conn)
	if err != nil {
		return nil, err
	}
	s := &socket{conn: conn, mc: mc, addr: l.bound, v6: l.v6, pktinfo: l.wildcard, r: r}
	s.initBuffers()
	return s, nil
}

// initBuffers points every header at its slot's buffers, once.
func (s *socket) initBuffers() {
	s.ntsSlots = NewNTSSlots(batchSize)
	for i := range s.slots {
		sl := &s.slots[i]
		s.rmsgs[i].Set(&sl.riov, sl.req[:], &sl.name, sl.oob[:])
		s.wtmpl[i].Set(&sl.wiov, sl.reply[:], &sl.name, nil)
	}
}

// serve answers requests until the socket is closed.
func (s *socket) serve() error {
	n := batchSize
	for {
		// Only the headers of the last read need their capacities back.
		mmsg.ResetRecv(s.rmsgs[:n], oobSize)
		var err error
		n, err = s.mc.Recv(s.rmsgs[:])
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			if _, ok := err.(unix.Errno); ok {
				s.stats.errors.Add(1)
				continue
			}
			return fmt.Errorf("listen %s: %w", s.addr, err)
		}
		s.handle(n)
		if s.nwrite > 0 {
			// Never wait for room in the send buffer: a flood whose replies
			// overrun one slow path out would stop this socket reading, for
			// clients on every interface. What does not fit is dropped.
			failed, dropped, err := s.mc.TrySend(s.wmsgs[:s.nwrite])
			if failed > 0 {
				// A reply that cannot be sent (an unreachable client, say)
				// is skipped; the rest of the batch still went.
				s.stats.errors.Add(uint64(failed))
			}
			if dropped > 0 {
				s.stats.sendDropped.Add(uint64(dropped))
			}
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return nil
				}
				return fmt.Errorf("listen %s: %w", s.addr, err)
			}
		}
	}
}

// handle builds the replies to the n datagrams just read into s.wmsgs.
func (s *socket) handle(n int) {
	b := s.r.Begin()
	s.nwrite = 0
	var tally [numVerdicts]uint32
	for i := 0; i < n; i++ {
		sl := &s.slots[i]
		rm := &s.rmsgs[i]
		if rm.Truncated() {
			tally[DropMalformed]++
			continue
		}
		ctl := mmsg.ParseControl(rm.Control(sl.oob[:]))
		req := Request{Data: sl.req[:rm.Len], Rx: timescale.Realtime(ctl.Rx), Source: mmsg.Source(&sl.name, rm.Hdr.Namelen), NTS: &s.ntsSlots[i]}
		size, v := s.r.Respond(&b, req, sl.reply[:])
		tally[v]++
		if size == 0 {
			continue
		}
		sl.wiov.SetLen(size)
		s.sealed[s.nwrite] = -1
		if v == AnsweredNTS {
			s.sealed[s.nwrite] = int16(i)
		}
		w := &s.wmsgs[s.nwrite]
		*w = s.wtmpl[i]
		w.Hdr.Namelen = rm.Hdr.Namelen
		if s.pktinfo && ctl.HasDst {
			w.Hdr.Control = &sl.replyOOB[0]
			w.Hdr.SetControllen(mmsg.PutPktinfo(sl.replyOOB[:], ctl.Dst, s.v6))
		}
		s.nwrite++
	}
	if s.nwrite > 0 {
		x := s.r.TransmitTAI()
		// The listener's time, once for the batch: every NTPv3 and NTPv4
		// reply carries it; an NTPv5 reply gets its own timescale's.
		v4 := ntp.TimestampFromUnixNano(int64(b.Smear.Served(x)))
		for i := 0; i < s.nwrite; i++ {
			if s.sealed[i] < 0 {
				resp := unsafe.Slice(s.wmsgs[i].Hdr.Iov.Base, ntp.HeaderLen)
				if resp[0]>>3&7 == ntp.Version5 {
					StampReply(&b, resp, x)
				} else {
					StampTransmit(resp, v4)
				}
			}
		}
		// NTS replies: each reads the clock for its own transmit timestamp
		// just before it is sealed, the header being authenticated.
		for i := 0; i < s.nwrite; i++ {
			if j := s.sealed[i]; j >= 0 {
				sl := &s.slots[j]
				req := Request{Data: sl.req[:s.rmsgs[j].Len], NTS: &s.ntsSlots[j]}
				if s.r.SealNTS(&b, req, sl.reply[:]) == 0 {
					sl.wiov.SetLen(0) // cannot happen; sends nothing useful
				}
			}
		}
	}
	s.stats.received.Add(uint64(n))
	for v, c := range tally {
		if c != 0 {
			s.stats.verdicts[v].Add(uint64(c))
		}
	}
}

// listen opens n sockets sharing addr with SO_REUSEPORT, each with kernel
// receive timestamps, and packet-info when addr is a wildcard. It first binds
// once without SO_REUSEPORT, so that a port held by another program (even
// another leapsmear) is reported rather than silently shared.
func listen(ctx context.Context, addr netip.AddrPort, n int) ([]*net.UDPConn, listener, error) {
	l := listener{v6: !addr.Addr().Is4(), wildcard: addr.Addr().IsUnspecified()}
	network := "udp4"
	switch {
	case l.v6 && l.wildcard:
		network = "udp" // [::] is dual-stack: IPv4 clients too, as v4-mapped addresses
	case l.v6:
		network = "udp6"
	}
	probe, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return nil, l, listenError(addr, err)
	}
	l.bound = probe.LocalAddr().(*net.UDPAddr).AddrPort()
	probe.Close()
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			if e := rxstamp.Enable(fd); e != nil {
				serr = fmt.Errorf("kernel receive timestamps (SO_TIMESTAMPNS): %w", e)
				return
			}
			opts := [][2]int{{unix.SOL_SOCKET, unix.SO_REUSEPORT}}
			switch {
			case l.wildcard && l.v6:
				opts = append(opts, [2]int{unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO})
			case l.wildcard:
				opts = append(opts, [2]int{unix.IPPROTO_IP, unix.IP_PKTINFO})
			}
			for _, o := range opts {
				if e := unix.SetsockoptInt(int(fd), o[0], o[1], 1); e != nil {
					serr = fmt.Errorf("setsockopt %d/%d: %w", o[0], o[1], e)
					return
				}
			}
			// Room for bursts; the kernel caps it at net.core.rmem_max.
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
			if !l.v6 {
				// Replies are 48 bytes and never fragmented: with DF set
				// (as Linux sets it on small UDP datagrams anyway) and path
				// MTU discovery off, the kernel leaves the IP ID at 0
				// instead of hashing one per reply (__ip_select_ident).
				_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_PROBE)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	conns := make([]*net.UDPConn, 0, n)
	for i := 0; i < n; i++ {
		pc, err := lc.ListenPacket(ctx, network, l.bound.String())
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, l, listenError(addr, err)
		}
		conns = append(conns, pc.(*net.UDPConn))
	}
	return conns, l, nil
}

// listener describes the sockets opened for one listen address.
type listener struct {
	bound    netip.AddrPort // the address bound (the port filled in when 0 was asked)
	v6       bool           // an IPv6 socket (dual-stack when wildcard)
	wildcard bool           // bound to a wildcard address: replies need packet-info
}

// listenError turns a bind failure into one line naming the address and
// saying what to do. The system's error number stays the cause, so that
// errors.Is(err, syscall.EADDRINUSE) holds for callers.
func listenError(addr netip.AddrPort, err error) error {
	var errno unix.Errno
	if !errors.As(err, &errno) {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	switch errno {
	case unix.EADDRINUSE:
		return fmt.Errorf("listen %s: %w (another NTP server such as chronyd or ntpd may hold it)", addr, errno)
	case unix.EACCES, unix.EPERM:
		return fmt.Errorf("listen %s: %w (ports below 1024 need root or CAP_NET_BIND_SERVICE; try a port such as 11123)", addr, errno)
	case unix.EADDRNOTAVAIL:
		return fmt.Errorf("listen %s: no such local address (%w)", addr, errno)
	}
	return fmt.Errorf("listen %s: %w", addr, err)
}
