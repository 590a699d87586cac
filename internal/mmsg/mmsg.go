// Package mmsg moves batches of UDP datagrams with one recvmmsg(2) or
// sendmmsg(2) system call each, through the Go runtime's poller, without
// allocating per datagram or per batch. It also reads and writes the control
// messages a time server needs: the kernel receive timestamp
// (SO_TIMESTAMPNS) and the packet-info that names the local address a
// datagram was sent to.
//
// golang.org/x/net's ipv4.PacketConn.ReadBatch does the same system call but
// unpacks every source address into a new net.UDPAddr and net.IP: two heap
// allocations per datagram (BenchmarkRecvXNet shows it). Here the caller
// owns every buffer, header and address, set up once.
package mmsg

import (
	"encoding/binary"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/leapsmear/leapsmear/internal/rxstamp"
)

// Msg is one datagram of a batch: struct mmsghdr of recvmmsg(2) and
// sendmmsg(2). Go lays it out as C does (the Msghdr, then Len padded to the
// Msghdr's alignment).
type Msg struct {
	Hdr unix.Msghdr
	// Len is the number of bytes received or sent.
	Len uint32
}

// Set points m at one buffer (through iov, which must stay where it is: the
// kernel reads it by address), an optional address and an optional
// control-message buffer. The capacities are those of a receive; call
// ResetRecv before each reuse for receiving.
func (m *Msg) Set(iov *unix.Iovec, buf []byte, name *unix.RawSockaddrInet6, oob []byte) {
	iov.Base = unsafe.SliceData(buf)
	iov.SetLen(len(buf))
	m.Hdr.Iov = iov
	m.Hdr.SetIovlen(1)
	m.Hdr.Name, m.Hdr.Namelen = nil, 0
	if name != nil {
		m.Hdr.Name = (*byte)(unsafe.Pointer(name))
		m.Hdr.Namelen = unix.SizeofSockaddrInet6
	}
	m.Hdr.Control = nil
	m.Hdr.SetControllen(0)
	if len(oob) > 0 {
		m.Hdr.Control = unsafe.SliceData(oob)
		m.Hdr.SetControllen(len(oob))
	}
	m.Hdr.Flags = 0
	m.Len = 0
}

// ResetRecv restores the capacities a previous recvmmsg overwrote: the
// address length and the control length (oobCap, the size of the control
// buffer given to Set).
func ResetRecv(msgs []Msg, oobCap int) {
	for i := range msgs {
		h := &msgs[i].Hdr
		if h.Name != nil {
			h.Namelen = unix.SizeofSockaddrInet6
		}
		if h.Control != nil {
			h.SetControllen(oobCap)
		}
		h.Flags = 0
	}
}

// Truncated reports whether the datagram did not fit its buffer.
func (m *Msg) Truncated() bool { return m.Hdr.Flags&unix.MSG_TRUNC != 0 }

// Control returns the control messages the kernel wrote into oob, the
// buffer given to Set.
func (m *Msg) Control(oob []byte) []byte {
	n := int(m.Hdr.Controllen)
	if n > len(oob) {
		n = len(oob)
	}
	return oob[:n]
}

// Conn issues recvmmsg and sendmmsg on one socket. Its system-call callbacks
// are built once, so a batch allocates nothing. A Conn is used by one
// goroutine at a time for receiving and one for sending.
type Conn struct {
	raw syscall.RawConn

	rmsgs []Msg
	rn    int
	rerr  unix.Errno
	rflag uintptr

	wmsgs    []Msg
	wdone    int
	wfailed  int
	wnowait  bool
	wdropped int

	readFn, writeFn func(fd uintptr) bool
}

// NewConn wraps a socket such as a *net.UDPConn.
func NewConn(c syscall.Conn) (*Conn, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	mc := &Conn{raw: raw}
	mc.readFn = mc.doRead
	mc.writeFn = mc.doWrite
	return mc, nil
}

// Raw returns the socket's raw connection (to set options).
func (c *Conn) Raw() syscall.RawConn { return c.raw }

// Recv reads up to len(msgs) datagrams with one recvmmsg, first waiting
// until at least one is there (honouring the socket's read deadline). Call
// ResetRecv on msgs before each Recv. It returns how many were read. err is
// net.ErrClosed (wrapped) once the socket is closed, a deadline error after
// the read deadline, or the unix.Errno of a failed call (such as
// ECONNREFUSED on a connected socket), after which the socket is still
// usable.
func (c *Conn) Recv(msgs []Msg) (int, error) {
	return c.recv(msgs, 0)
}

// TryRecv is Recv without waiting: it returns 0 and no error when nothing
// is queued.
func (c *Conn) TryRecv(msgs []Msg) (int, error) {
	return c.recv(msgs, unix.MSG_DONTWAIT)
}

func (c *Conn) recv(msgs []Msg, flags uintptr) (int, error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	c.rmsgs, c.rflag = msgs, flags
	err := c.raw.Read(c.readFn)
	c.rmsgs = nil
	if err != nil {
		return 0, err
	}
	if c.rerr != 0 {
		if c.rerr == unix.EAGAIN {
			return 0, nil
		}
		return 0, c.rerr
	}
	return c.rn, nil
}

// doRead is the recvmmsg callback: false asks the runtime to wait until the
// socket is readable and call again.
//
// The socket is non-blocking, so the call never waits: it is made raw,
// without telling the scheduler. Telling it (entersyscall, exitsyscall) costs
// more than the call, and lets the runtime's monitor thread hand the
// processor off and wake threads to no purpose.
func (c *Conn) doRead(fd uintptr) bool {
	for {
		n, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&c.rmsgs[0])), uintptr(len(c.rmsgs)), c.rflag|unix.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
			c.rn, c.rerr = int(n), 0
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			if c.rflag&unix.MSG_DONTWAIT != 0 {
				c.rn, c.rerr = 0, errno
				return true
			}
			return false
		default:
			c.rn, c.rerr = 0, errno
			return true
		}
	}
}

// Send sends every datagram of msgs with as few sendmmsg calls as it takes,
// waiting while the socket's buffer is full (honouring the write deadline).
// A datagram the kernel refuses (an unreachable destination, say) is skipped
// and counted in failed; the rest of the batch still goes. err is only for
// the socket itself: closed, or past its write deadline.
func (c *Conn) Send(msgs []Msg) (failed int, err error) {
	failed, _, err = c.send(msgs, false)
	return failed, err
}

// TrySend is Send without waiting: what the socket's full buffer cannot
// take now is dropped and counted in dropped, so that a slow path out never
// holds up the caller (a server goes on reading, and a reply sent late
// would carry a stale transmit time anyway).
func (c *Conn) TrySend(msgs []Msg) (failed, dropped int, err error) {
	return c.send(msgs, true)
}

func (c *Conn) send(msgs []Msg, nowait bool) (failed, dropped int, err error) {
	if len(msgs) == 0 {
		return 0, 0, nil
	}
	c.wmsgs, c.wdone, c.wfailed, c.wnowait, c.wdropped = msgs, 0, 0, nowait, 0
	err = c.raw.Write(c.writeFn)
	c.wmsgs = nil
	return c.wfailed, c.wdropped, err
}

// doWrite is the sendmmsg callback for c.wmsgs[c.wdone:]; raw like doRead.
func (c *Conn) doWrite(fd uintptr) bool {
	for c.wdone < len(c.wmsgs) {
		n, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&c.wmsgs[c.wdone])), uintptr(len(c.wmsgs)-c.wdone), unix.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
			c.wdone += int(n)
		case unix.EINTR:
		case unix.EAGAIN:
			if c.wnowait {
				c.wdropped = len(c.wmsgs) - c.wdone
				c.wdone = len(c.wmsgs)
				return true
			}
			return false
		default:
			// sendmmsg reports the error of the first datagram when it
			// sent none; skip that one.
			c.wfailed++
			c.wdone++
		}
	}
	return true
}

// Control is what the kernel's control messages say about one received
// datagram.
type Control struct {
	// Rx is the kernel receive timestamp (CLOCK_REALTIME, POSIX
	// nanoseconds), 0 when there was none.
	Rx int64
	// Dst is the local address the datagram was sent to, from packet-info;
	// valid when HasDst.
	Dst Pktinfo
	// HasDst reports whether packet-info was present.
	HasDst bool
}

// Pktinfo is a local address and interface for IP_PKTINFO or IPV6_PKTINFO:
// an IPv4 address in the first 4 bytes of Addr, or an IPv6 address (a
// v4-mapped one for IPv4 on a dual-stack socket).
type Pktinfo struct {
	Addr    [16]byte
	Ifindex uint32
}

// ParseControl reads the receive timestamp and packet-info out of the
// control messages of one datagram. Unknown or broken messages are skipped.
func ParseControl(oob []byte) (c Control) {
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(oob) {
			return c
		}
		data := oob[unix.CmsgLen(0):l]
		switch {
		case h.Level == unix.SOL_SOCKET:
			if rx, ok := rxstamp.Decode(h.Level, h.Type, data); ok {
				c.Rx = rx
			}
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			info := (*unix.Inet4Pktinfo)(unsafe.Pointer(&data[0]))
			c.Dst = Pktinfo{Ifindex: uint32(info.Ifindex)}
			copy(c.Dst.Addr[:4], info.Addr[:])
			c.HasDst = true
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			info := (*unix.Inet6Pktinfo)(unsafe.Pointer(&data[0]))
			c.Dst = Pktinfo{Addr: info.Addr, Ifindex: info.Ifindex}
			c.HasDst = true
		}
		next := unix.CmsgSpace(l - unix.CmsgLen(0))
		if next > len(oob) {
			return c
		}
		oob = oob[next:]
	}
	return c
}

// PutPktinfo writes into b the packet-info control message that makes a
// datagram leave from p (IPV6_PKTINFO when v6, else IP_PKTINFO) and returns
// its length. b must hold PktinfoSpace bytes.
func PutPktinfo(b []byte, p Pktinfo, v6 bool) int {
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	if v6 {
		h.Level, h.Type = unix.IPPROTO_IPV6, unix.IPV6_PKTINFO
		h.SetLen(unix.CmsgLen(unix.SizeofInet6Pktinfo))
		info := (*unix.Inet6Pktinfo)(unsafe.Pointer(&b[unix.CmsgLen(0)]))
		*info = unix.Inet6Pktinfo{Addr: p.Addr, Ifindex: p.Ifindex}
		return unix.CmsgSpace(unix.SizeofInet6Pktinfo)
	}
	h.Level, h.Type = unix.IPPROTO_IP, unix.IP_PKTINFO
	h.SetLen(unix.CmsgLen(unix.SizeofInet4Pktinfo))
	info := (*unix.Inet4Pktinfo)(unsafe.Pointer(&b[unix.CmsgLen(0)]))
	*info = unix.Inet4Pktinfo{Ifindex: int32(p.Ifindex)}
	copy(info.Spec_dst[:], p.Addr[:4])
	return unix.CmsgSpace(unix.SizeofInet4Pktinfo)
}

// PktinfoSpace is the room PutPktinfo needs.
var PktinfoSpace = unix.CmsgSpace(unix.SizeofInet6Pktinfo)

// Source returns the source address the kernel wrote into sa with length
// namelen: an IPv4 address for an IPv4 client, also of a dual-stack socket
// (v4-mapped addresses are unmapped). It is the zero AddrPort, which is not
// valid, for any other address family. It does not allocate (the IPv6 zone
// is not kept).
func Source(sa *unix.RawSockaddrInet6, namelen uint32) netip.AddrPort {
	raw := (*[unix.SizeofSockaddrInet6]byte)(unsafe.Pointer(sa))
	port := binary.BigEndian.Uint16(raw[2:4])
	switch {
	case namelen >= unix.SizeofSockaddrInet4 && sa.Family == unix.AF_INET:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(raw[4:8])), port)
	case namelen >= unix.SizeofSockaddrInet6 && sa.Family == unix.AF_INET6:
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(raw[8:24])).Unmap(), port)
	}
	return netip.AddrPort{}
}

// PutSockaddr writes ap into sa as the kernel wants it (sockaddr_in for an
// IPv4 address, sockaddr_in6 otherwise) and returns its length.
func PutSockaddr(sa *unix.RawSockaddrInet6, ap netip.AddrPort) uint32 {
	*sa = unix.RawSockaddrInet6{}
	raw := (*[unix.SizeofSockaddrInet6]byte)(unsafe.Pointer(sa))
	binary.BigEndian.PutUint16(raw[2:4], ap.Port())
	a := ap.Addr()
	if a.Is4() || a.Is4In6() {
		sa.Family = unix.AF_INET
		v4 := a.Unmap().As4()
		copy(raw[4:8], v4[:])
		return unix.SizeofSockaddrInet4
	}
	sa.Family = unix.AF_INET6
	sa.Addr = a.As16()
	return unix.SizeofSockaddrInet6
}
