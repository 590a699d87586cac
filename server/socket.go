package server

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/leapsmear/leapsmear/ntp"
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

// mmsghdr is struct mmsghdr of recvmmsg(2); Go pads it to the alignment of
// unix.Msghdr exactly as C does.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

// slot is one datagram of a batch, with the reply built in place.
type slot struct {
	req   [maxRequest]byte
	oob   [oobSize]byte
	name  unix.RawSockaddrInet6 // large enough for IPv4 and IPv6 sources
	reply [ntp.HeaderLen]byte
	// replyOOB carries the packet-info that makes the reply leave from the
	// address the request was sent to (sockets bound to a wildcard address).
	replyOOB [oobSize]byte
	riov     unix.Iovec
	wiov     unix.Iovec
}

// counters are one socket's tallies; the socket's goroutine is the only
// writer, readers sum them over sockets.
type counters struct {
	received atomic.Uint64
	verdicts [numVerdicts]atomic.Uint64
	errors   atomic.Uint64
	_        [64]byte // keep sockets' counters on separate cache lines
}

// socket is one UDP socket with its batch buffers. Everything a packet needs
// is allocated once here, so that serving allocates nothing.
type socket struct {
	conn    *net.UDPConn
	raw     syscall.RawConn
	addr    netip.AddrPort
	v6      bool
	pktinfo bool
	r       *Responder
	seed    maphash.Seed

	slots [batchSize]slot
	rhdr  [batchSize]mmsghdr
	whdr  [batchSize]mmsghdr

	// The read and write callbacks are built once: a closure made per call
	// would be allocated per batch.
	readFn, writeFn func(fd uintptr) bool
	nread           int
	nwrite, wdone   int
	ioErr           error

	stats counters
}

func newSocket(conn *net.UDPConn, r *Responder, l listener, seed maphash.Seed) (*socket, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	s := &socket{conn: conn, raw: raw, addr: l.bound, v6: l.v6, pktinfo: l.wildcard, r: r, seed: seed}
	for i := range s.slots {
		sl := &s.slots[i]
		sl.riov.Base = &sl.req[0]
		sl.riov.SetLen(maxRequest)
		h := &s.rhdr[i].hdr
		h.Name = (*byte)(unsafe.Pointer(&sl.name))
		h.Iov = &sl.riov
		h.SetIovlen(1)
		h.Control = &sl.oob[0]
		sl.wiov.Base = &sl.reply[0]
		sl.wiov.SetLen(ntp.HeaderLen)
	}
	s.readFn = s.doRead
	s.writeFn = s.doWrite
	return s, nil
}

// doRead is the recvmmsg callback: false asks the runtime to wait for the
// socket to become readable and call again.
func (s *socket) doRead(fd uintptr) bool {
	for i := range s.rhdr {
		h := &s.rhdr[i].hdr
		h.Namelen = unix.SizeofSockaddrInet6
		h.SetControllen(oobSize)
		h.Flags = 0
	}
	n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&s.rhdr[0])), batchSize, 0, 0, 0)
	switch errno {
	case 0:
		s.nread, s.ioErr = int(n), nil
		return true
	case unix.EAGAIN, unix.EINTR:
		return false
	default:
		s.nread, s.ioErr = 0, errno
		return true
	}
}

// doWrite is the sendmmsg callback for the replies s.whdr[s.wdone:s.nwrite].
func (s *socket) doWrite(fd uintptr) bool {
	for s.wdone < s.nwrite {
		n, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&s.whdr[s.wdone])), uintptr(s.nwrite-s.wdone), 0, 0, 0)
		switch errno {
		case 0:
			s.wdone += int(n)
		case unix.EAGAIN, unix.EINTR:
			return false
		default:
			// A reply that cannot be sent (an unreachable client, say) is
			// skipped; the rest of the batch still goes.
			s.stats.errors.Add(1)
			s.wdone++
		}
	}
	return true
}

// serve answers requests until the socket is closed.
func (s *socket) serve() error {
	for {
		if err := s.raw.Read(s.readFn); err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("listen %s: %w", s.addr, err)
		}
		if s.ioErr != nil {
			s.stats.errors.Add(1)
			continue
		}
		s.handle(s.nread)
		if s.nwrite > 0 {
			s.wdone = 0
			if err := s.raw.Write(s.writeFn); err != nil {
				if errors.Is(err, net.ErrClosed) {
					return nil
				}
				return fmt.Errorf("listen %s: %w", s.addr, err)
			}
		}
	}
}

// handle builds the replies to the n datagrams just read into s.whdr.
func (s *socket) handle(n int) {
	s.stats.received.Add(uint64(n))
	b := s.r.begin()
	s.nwrite = 0
	for i := 0; i < n; i++ {
		sl := &s.slots[i]
		rh := &s.rhdr[i]
		key, port, ok := s.sourceKey(sl, rh.hdr.Namelen)
		v := DropSource
		var size int
		if ok && port != 0 {
			rx, dst, hasDst := s.parseControl(sl.oob[:rh.hdr.Controllen])
			if rh.hdr.Flags&unix.MSG_TRUNC != 0 {
				v = DropMalformed
			} else {
				size, v = s.r.respond(&b, sl.req[:rh.len], sl.reply[:], rx, key)
			}
			if size > 0 {
				w := &s.whdr[s.nwrite]
				w.hdr.Name = rh.hdr.Name
				w.hdr.Namelen = rh.hdr.Namelen
				w.hdr.Iov = &sl.wiov
				w.hdr.SetIovlen(1)
				w.hdr.Control, w.hdr.Controllen = nil, 0
				if hasDst {
					w.hdr.Control = &sl.replyOOB[0]
					w.hdr.SetControllen(s.buildPktinfo(sl.replyOOB[:], dst))
				}
				s.nwrite++
			}
		}
		s.stats.verdicts[v].Add(1)
	}
	if s.nwrite > 0 {
		ts := s.r.transmitTime(&b)
		for i := 0; i < s.nwrite; i++ {
			stampTransmit(unsafe.Slice(s.whdr[i].hdr.Iov.Base, ntp.HeaderLen), ts)
		}
	}
}

// sourceKey hashes the source address for the rate limiter and returns the
// source port; ok is false for an address family the socket cannot answer.
func (s *socket) sourceKey(sl *slot, namelen uint32) (key uint64, port uint16, ok bool) {
	raw := (*[unix.SizeofSockaddrInet6]byte)(unsafe.Pointer(&sl.name))
	switch {
	case namelen >= unix.SizeofSockaddrInet4 && sl.name.Family == unix.AF_INET:
		port = binary.BigEndian.Uint16(raw[2:4])
		return maphash.Bytes(s.seed, raw[4:8]), port, true
	case namelen >= unix.SizeofSockaddrInet6 && sl.name.Family == unix.AF_INET6:
		port = binary.BigEndian.Uint16(raw[2:4])
		addr := raw[8:24]
		if isV4Mapped(addr) {
			// The same client over IPv4 and a dual-stack socket: one key.
			return maphash.Bytes(s.seed, addr[12:16]), port, true
		}
		return maphash.Bytes(s.seed, addr), port, true
	}
	return 0, 0, false
}

func isV4Mapped(a []byte) bool {
	for _, b := range a[:10] {
		if b != 0 {
			return false
		}
	}
	return a[10] == 0xff && a[11] == 0xff
}

// parseControl reads the kernel's receive timestamp (CLOCK_REALTIME, ns) and,
// on wildcard sockets, the address the request was sent to.
func (s *socket) parseControl(oob []byte) (rx int64, dst [20]byte, hasDst bool) {
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(oob) {
			return
		}
		data := oob[unix.CmsgLen(0):l]
		switch {
		case h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS && len(data) >= int(unsafe.Sizeof(unix.Timespec{})):
			ts := (*unix.Timespec)(unsafe.Pointer(&data[0]))
			rx = ts.Sec*1e9 + ts.Nsec
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			info := (*unix.Inet4Pktinfo)(unsafe.Pointer(&data[0]))
			binary.NativeEndian.PutUint32(dst[16:], uint32(info.Ifindex))
			copy(dst[:4], info.Addr[:])
			hasDst = s.pktinfo
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			info := (*unix.Inet6Pktinfo)(unsafe.Pointer(&data[0]))
			binary.NativeEndian.PutUint32(dst[16:], info.Ifindex)
			copy(dst[:16], info.Addr[:])
			hasDst = s.pktinfo
		}
		next := unix.CmsgSpace(l - unix.CmsgLen(0))
		if next > len(oob) {
			return
		}
		oob = oob[next:]
	}
	return
}

// buildPktinfo writes the packet-info control message that sends a reply
// from the address in dst (16 address bytes, then the interface index) and
// returns its length.
func (s *socket) buildPktinfo(b []byte, dst [20]byte) int {
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	ifindex := binary.NativeEndian.Uint32(dst[16:])
	if s.v6 {
		h.Level, h.Type = unix.IPPROTO_IPV6, unix.IPV6_PKTINFO
		h.SetLen(unix.CmsgLen(unix.SizeofInet6Pktinfo))
		info := (*unix.Inet6Pktinfo)(unsafe.Pointer(&b[unix.CmsgLen(0)]))
		copy(info.Addr[:], dst[:16])
		info.Ifindex = ifindex
		return unix.CmsgSpace(unix.SizeofInet6Pktinfo)
	}
	h.Level, h.Type = unix.IPPROTO_IP, unix.IP_PKTINFO
	h.SetLen(unix.CmsgLen(unix.SizeofInet4Pktinfo))
	info := (*unix.Inet4Pktinfo)(unsafe.Pointer(&b[unix.CmsgLen(0)]))
	*info = unix.Inet4Pktinfo{Ifindex: int32(ifindex)}
	copy(info.Spec_dst[:], dst[:4])
	return unix.CmsgSpace(unix.SizeofInet4Pktinfo)
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
			opts := [][2]int{{unix.SOL_SOCKET, unix.SO_REUSEPORT}, {unix.SOL_SOCKET, unix.SO_TIMESTAMPNS}}
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

// listenError turns a bind failure into one line naming the address.
func listenError(addr netip.AddrPort, err error) error {
	switch {
	case errors.Is(err, unix.EADDRINUSE):
		return fmt.Errorf("listen %s: address already in use (another NTP server such as chronyd or ntpd may hold it)", addr)
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return fmt.Errorf("listen %s: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE; try a port such as 11123)", addr)
	case errors.Is(err, unix.EADDRNOTAVAIL):
		return fmt.Errorf("listen %s: no such local address", addr)
	}
	return fmt.Errorf("listen %s: %w", addr, err)
}
