package mmsg

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/leapsmear/leapsmear/internal/rxstamp"
)

// batch is a set of receive buffers with their headers, as a server keeps.
type batch struct {
	bufs  [][256]byte
	oob   [][128]byte
	names []unix.RawSockaddrInet6
	iov   []unix.Iovec
	msgs  []Msg
}

func newBatch(n int) *batch {
	b := &batch{bufs: make([][256]byte, n), oob: make([][128]byte, n), names: make([]unix.RawSockaddrInet6, n),
		iov: make([]unix.Iovec, n), msgs: make([]Msg, n)}
	for i := range b.msgs {
		b.msgs[i].Set(&b.iov[i], b.bufs[i][:], &b.names[i], b.oob[i][:])
	}
	return b
}

// listen opens a UDP socket on loopback with receive timestamps and
// packet-info.
func listen(t testing.TB, network string, ip net.IP) (*net.UDPConn, *Conn) {
	t.Helper()
	c, err := net.ListenUDP(network, &net.UDPAddr{IP: ip})
	if err != nil {
		t.Skipf("no %s loopback: %v", network, err)
	}
	t.Cleanup(func() { c.Close() })
	mc, err := NewConn(c)
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	err = mc.Raw().Control(func(fd uintptr) {
		serr = errors.Join(rxstamp.Enable(fd),
			map[string]error{
				"udp4": unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_PKTINFO, 1),
				"udp6": unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1),
			}[network])
	})
	if err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	return c, mc
}

// TestRoundTrip sends a batch from one socket to another with Send, reads it
// with Recv, checks payloads, sources, timestamps and packet-info, and sends
// replies back to the sources with packet-info naming the local address.
func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		network string
		ip      net.IP
	}{{"udp4", net.IPv4(127, 0, 0, 1)}, {"udp6", net.IPv6loopback}} {
		t.Run(tc.network, func(t *testing.T) {
			srv, smc := listen(t, tc.network, tc.ip)
			cli, cmc := listen(t, tc.network, tc.ip)
			srvAddr := srv.LocalAddr().(*net.UDPAddr).AddrPort()
			cliAddr := cli.LocalAddr().(*net.UDPAddr).AddrPort()

			const n = 20
			out := newBatch(n)
			for i := range n {
				namelen := PutSockaddr(&out.names[i], srvAddr)
				out.msgs[i].Hdr.Namelen = namelen
				payload := bytes.Repeat([]byte{byte(i)}, 10+i)
				copy(out.bufs[i][:], payload)
				out.iov[i].SetLen(len(payload))
				out.msgs[i].Hdr.Control = nil
				out.msgs[i].Hdr.SetControllen(0)
			}
			before := time.Now().UnixNano()
			failed, err := cmc.Send(out.msgs)
			if err != nil || failed != 0 {
				t.Fatalf("Send: failed %d, %v", failed, err)
			}
			after := time.Now().UnixNano()

			in := newBatch(8) // fewer than sent: several reads
			got := 0
			if err := srv.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
				t.Fatal(err)
			}
			reply := newBatch(8)
			for got < n {
				ResetRecv(in.msgs, 128)
				k, err := smc.Recv(in.msgs)
				if err != nil {
					t.Fatalf("Recv after %d: %v", got, err)
				}
				if k == 0 || k > len(in.msgs) {
					t.Fatalf("Recv returned %d", k)
				}
				for j := range k {
					m := &in.msgs[j]
					i := got + j
					if m.Truncated() || int(m.Len) != 10+i || !bytes.Equal(in.bufs[j][:m.Len], bytes.Repeat([]byte{byte(i)}, 10+i)) {
						t.Fatalf("datagram %d: len %d truncated %v", i, m.Len, m.Truncated())
					}
					src := Source(&in.names[j], m.Hdr.Namelen)
					if want := netip.AddrPortFrom(cliAddr.Addr().Unmap(), cliAddr.Port()); src != want {
						t.Fatalf("datagram %d from %v, want %v", i, src, want)
					}
					ctl := ParseControl(m.Control(in.oob[j][:]))
					if ctl.Rx < before-int64(time.Millisecond) || ctl.Rx > after+int64(time.Second) {
						t.Errorf("datagram %d: receive timestamp %d not between send %d and %d", i, ctl.Rx, before, after)
					}
					if !ctl.HasDst {
						t.Fatalf("datagram %d: no packet-info", i)
					}
					dst := srvAddr.Addr().As16()
					if tc.network == "udp4" {
						if !bytes.Equal(ctl.Dst.Addr[:4], []byte{127, 0, 0, 1}) {
							t.Errorf("packet-info address %v", ctl.Dst.Addr)
						}
					} else if ctl.Dst.Addr != dst {
						t.Errorf("packet-info address %v, want %v", ctl.Dst.Addr, dst)
					}
					if ctl.Dst.Ifindex == 0 {
						t.Errorf("packet-info interface 0")
					}
					// The reply goes back from the address the datagram came to.
					r := &reply.msgs[j]
					reply.names[j] = in.names[j]
					r.Hdr.Namelen = m.Hdr.Namelen
					reply.bufs[j][0] = byte(i)
					reply.iov[j].SetLen(1)
					r.Hdr.SetControllen(PutPktinfo(reply.oob[j][:], ctl.Dst, tc.network == "udp6"))
				}
				if failed, err := smc.Send(reply.msgs[:k]); err != nil || failed != 0 {
					t.Fatalf("reply: failed %d, %v", failed, err)
				}
				got += k
			}

			buf := make([]byte, 16)
			if err := cli.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
				t.Fatal(err)
			}
			for i := range n {
				k, from, err := cli.ReadFromUDPAddrPort(buf)
				if err != nil {
					t.Fatalf("reply %d: %v", i, err)
				}
				if k != 1 || buf[0] != byte(i) || from.Port() != srvAddr.Port() {
					t.Fatalf("reply %d: %v from %v", i, buf[:k], from)
				}
			}
		})
	}
}

func TestTryRecvAndDeadline(t *testing.T) {
	c, mc := listen(t, "udp4", net.IPv4(127, 0, 0, 1))
	in := newBatch(4)
	n, err := mc.TryRecv(in.msgs)
	if n != 0 || err != nil {
		t.Fatalf("TryRecv on an empty socket: %d, %v", n, err)
	}
	if err := c.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := mc.Recv(in.msgs); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Recv past the deadline: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("deadline honoured after %v", d)
	}
	c.Close()
	if _, err := mc.Recv(in.msgs); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Recv on a closed socket: %v", err)
	}
	if _, err := mc.Send(in.msgs); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Send on a closed socket: %v", err)
	}
}

// TestSendSkipsRefused: a datagram the kernel refuses (here, to port 0) is
// counted and the rest of the batch still goes.
func TestSendSkipsRefused(t *testing.T) {
	srv, _ := listen(t, "udp4", net.IPv4(127, 0, 0, 1))
	_, cmc := listen(t, "udp4", net.IPv4(127, 0, 0, 1))
	out := newBatch(3)
	good := srv.LocalAddr().(*net.UDPAddr).AddrPort()
	for i, ap := range []netip.AddrPort{good, netip.MustParseAddrPort("127.0.0.1:0"), good} {
		out.msgs[i].Hdr.Namelen = PutSockaddr(&out.names[i], ap)
		out.bufs[i][0] = byte(i)
		out.iov[i].SetLen(1)
		out.msgs[i].Hdr.Control = nil
		out.msgs[i].Hdr.SetControllen(0)
	}
	failed, err := cmc.Send(out.msgs)
	if err != nil || failed != 1 {
		t.Fatalf("Send: failed %d, %v; want 1 refused", failed, err)
	}
	buf := make([]byte, 4)
	_ = srv.SetReadDeadline(time.Now().Add(5 * time.Second))
	for _, want := range []byte{0, 2} {
		n, _, err := srv.ReadFromUDPAddrPort(buf)
		if err != nil || n != 1 || buf[0] != want {
			t.Fatalf("got %v %v, want datagram %d", buf[:n], err, want)
		}
	}
}

// cmsg appends one control message.
func cmsg(b []byte, level, typ int32, data []byte) []byte {
	h := make([]byte, unix.CmsgSpace(len(data)))
	hdr := (*unix.Cmsghdr)(unsafe.Pointer(&h[0]))
	hdr.Level, hdr.Type = level, typ
	hdr.SetLen(unix.CmsgLen(len(data)))
	copy(h[unix.CmsgLen(0):], data)
	return append(b, h...)
}

func timespec(sec, nsec int64) []byte {
	b := make([]byte, 16)
	binary.NativeEndian.PutUint64(b, uint64(sec))
	binary.NativeEndian.PutUint64(b[8:], uint64(nsec))
	return b
}

func TestParseControl(t *testing.T) {
	v4 := make([]byte, unix.SizeofInet4Pktinfo)
	binary.NativeEndian.PutUint32(v4, 7) // ifindex
	copy(v4[4:8], []byte{10, 0, 0, 1})   // spec_dst
	copy(v4[8:12], []byte{192, 0, 2, 9}) // addr: the destination
	v6 := make([]byte, unix.SizeofInet6Pktinfo)
	copy(v6, netip.MustParseAddr("2001:db8::5").AsSlice())
	binary.NativeEndian.PutUint32(v6[16:], 3)

	ts := cmsg(nil, unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, timespec(1700000000, 123456789))
	c := ParseControl(ts)
	if c.Rx != 1700000000123456789 || c.HasDst {
		t.Errorf("timestamp only: %+v", c)
	}
	c = ParseControl(cmsg(cmsg(nil, unix.IPPROTO_IP, unix.IP_PKTINFO, v4), unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, timespec(1, 2)))
	if c.Rx != 1e9+2 || !c.HasDst || c.Dst.Ifindex != 7 || !bytes.Equal(c.Dst.Addr[:4], []byte{192, 0, 2, 9}) {
		t.Errorf("v4 packet-info and timestamp: %+v", c)
	}
	c = ParseControl(cmsg(nil, unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, v6))
	if c.Rx != 0 || !c.HasDst || c.Dst.Ifindex != 3 || netip.AddrFrom16(c.Dst.Addr) != netip.MustParseAddr("2001:db8::5") {
		t.Errorf("v6 packet-info: %+v", c)
	}
	// Unknown messages are skipped; short or broken ones end the walk.
	c = ParseControl(cmsg(cmsg(nil, unix.SOL_SOCKET, 9999, []byte{1, 2, 3}), unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, timespec(5, 0)))
	if c.Rx != 5e9 {
		t.Errorf("after an unknown message: %+v", c)
	}
	for _, bad := range [][]byte{nil, ts[:10], ts[:len(ts)-1], cmsg(nil, unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, []byte{1, 2, 3})} {
		if c := ParseControl(bad); c.Rx != 0 || c.HasDst {
			t.Errorf("%x: %+v, want nothing", bad, c)
		}
	}
}

func FuzzParseControl(f *testing.F) {
	f.Add(cmsg(nil, unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, timespec(1, 2)))
	f.Add(cmsg(nil, unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, make([]byte, unix.SizeofInet6Pktinfo)))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0, 35, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		// Aligned as the kernel's buffer is.
		buf := make([]uint64, (len(b)+7)/8)
		oob := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(buf))), len(b))
		copy(oob, b)
		c := ParseControl(oob)
		if c.Rx != 0 && len(b) < unix.CmsgLen(16) {
			t.Fatalf("timestamp %d from %d bytes", c.Rx, len(b))
		}
	})
}

func TestPutPktinfo(t *testing.T) {
	b := make([]byte, PktinfoSpace)
	p := Pktinfo{Ifindex: 4}
	copy(p.Addr[:], netip.MustParseAddr("2001:db8::7").AsSlice())
	n := PutPktinfo(b, p, true)
	c := ParseControl(b[:n])
	if n != unix.CmsgSpace(unix.SizeofInet6Pktinfo) || !c.HasDst || c.Dst != p {
		t.Errorf("v6: %d bytes, parsed %+v, want %+v", n, c, p)
	}
	b = make([]byte, PktinfoSpace)
	p = Pktinfo{Ifindex: 2}
	copy(p.Addr[:4], []byte{127, 0, 0, 9})
	n = PutPktinfo(b, p, false)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	info := (*unix.Inet4Pktinfo)(unsafe.Pointer(&b[unix.CmsgLen(0)]))
	if n != unix.CmsgSpace(unix.SizeofInet4Pktinfo) || h.Level != unix.IPPROTO_IP || h.Type != unix.IP_PKTINFO ||
		info.Ifindex != 2 || info.Spec_dst != [4]byte{127, 0, 0, 9} || info.Addr != [4]byte{} {
		t.Errorf("v4: %d bytes, %+v %+v", n, h, info)
	}
}

func TestSockaddrRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		var a netip.Addr
		switch r.IntN(3) {
		case 0:
			a = netip.AddrFrom4([4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())})
		case 1:
			var b [16]byte
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			a = netip.AddrFrom16(b)
		case 2:
			a = netip.AddrFrom16(netip.AddrFrom4([4]byte{10, byte(r.Uint32()), 0, 1}).As16()) // v4-mapped
		}
		ap := netip.AddrPortFrom(a, uint16(r.Uint32()))
		var sa unix.RawSockaddrInet6
		n := PutSockaddr(&sa, ap)
		want := netip.AddrPortFrom(a.Unmap(), ap.Port())
		if got := Source(&sa, n); got != want {
			t.Fatalf("%v: got %v, want %v", ap, got, want)
		}
		// A dual-stack socket reports an IPv4 client as v4-mapped IPv6:
		// Source gives the IPv4 address.
		if a.Unmap().Is4() {
			sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: netip.AddrFrom16(a.As16()).As16()}
			binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:], ap.Port())
			if got := Source(&sa, unix.SizeofSockaddrInet6); got != want {
				t.Fatalf("v4-mapped %v: got %v, want %v", ap, got, want)
			}
		}
	}
	var sa unix.RawSockaddrInet6
	sa.Family = unix.AF_UNIX
	if Source(&sa, unix.SizeofSockaddrInet6).IsValid() {
		t.Error("AF_UNIX source accepted")
	}
	sa.Family = unix.AF_INET6
	if Source(&sa, unix.SizeofSockaddrInet4).IsValid() {
		t.Error("short IPv6 source accepted")
	}
}

// TestBatchAllocs: a Send and Recv of a full batch allocate nothing.
func TestBatchAllocs(t *testing.T) {
	srv, smc := listen(t, "udp4", net.IPv4(127, 0, 0, 1))
	_, cmc := listen(t, "udp4", net.IPv4(127, 0, 0, 1))
	out, in := newBatch(32), newBatch(32)
	to := srv.LocalAddr().(*net.UDPAddr).AddrPort()
	for i := range out.msgs {
		out.msgs[i].Hdr.Namelen = PutSockaddr(&out.names[i], to)
		out.iov[i].SetLen(48)
		out.msgs[i].Hdr.Control = nil
		out.msgs[i].Hdr.SetControllen(0)
	}
	_ = srv.SetReadDeadline(time.Now().Add(10 * time.Second))
	allocs := testing.AllocsPerRun(50, func() {
		if _, err := cmc.Send(out.msgs); err != nil {
			t.Fatal(err)
		}
		for got := 0; got < len(out.msgs); {
			ResetRecv(in.msgs, 128)
			n, err := smc.Recv(in.msgs)
			if err != nil {
				t.Fatal(err)
			}
			got += n
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per batch of %d", allocs, len(out.msgs))
	}
}
