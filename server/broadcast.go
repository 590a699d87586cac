package server

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
)

// Broadcasts is a set of IPv4 directed broadcast addresses: the last address
// of each subnet this host is on (192.168.1.255 for 192.168.1.0/24, and
// 127.255.255.255 for lo's 127.0.0.0/8). No host sends from one; a request
// that claims to is forged, and a reply to it would reach every host of the
// subnet (a reflection attack, amplified by the subnet's size). A Responder
// drops requests from them (DropSource). A Broadcasts is immutable once
// made, so that a new one can replace it while requests are answered; the
// nil *Broadcasts is the empty set.
type Broadcasts struct {
	addrs []uint32 // sorted, distinct, each with its two lowest bits set
}

// DirectedBroadcasts returns the directed broadcast addresses of the IPv4
// prefixes among ps shorter than /31: each prefix's address with every host
// bit set. A /31 or /32 has none (RFC 3021: both addresses of a /31 are
// hosts), and IPv6 has no broadcast. An IPv4-mapped IPv6 prefix (::ffff:0:0/96
// and longer) counts as the IPv4 prefix it maps.
func DirectedBroadcasts(ps []netip.Prefix) *Broadcasts {
	bs := &Broadcasts{}
	for _, p := range ps {
		a, bits := p.Addr(), p.Bits()
		if a.Is4In6() && bits >= 96 {
			a, bits = a.Unmap(), bits-96
		}
		if !a.Is4() || bits < 0 || bits > 30 {
			continue
		}
		b := a.As4()
		bs.addrs = append(bs.addrs, binary.BigEndian.Uint32(b[:])|(1<<(32-bits)-1))
	}
	slices.Sort(bs.addrs)
	bs.addrs = slices.Compact(bs.addrs)
	return bs
}

// HostBroadcasts reads the addresses of this host's interfaces (every one,
// up or down, in the network namespace of the process) and returns their
// directed broadcast addresses. It reads the kernel's tables (netlink): call
// it when setting up or refreshing, never while answering.
func HostBroadcasts() (*Broadcasts, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("reading the host's interface addresses: %w", err)
	}
	ps := make([]netip.Prefix, 0, len(addrs))
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(n.IP)
		ones, bits := n.Mask.Size()
		if !ok || bits == 0 {
			continue // a non-canonical mask: no prefix
		}
		ip = ip.Unmap()
		if ip.Is4() && bits == 128 {
			ones -= 96
		}
		ps = append(ps, netip.PrefixFrom(ip, ones))
	}
	return DirectedBroadcasts(ps), nil
}

// Contains reports whether a (IPv4, or IPv4-mapped IPv6) is in the set. It
// allocates nothing.
func (bs *Broadcasts) Contains(a netip.Addr) bool {
	a = a.Unmap()
	if !a.Is4() {
		return false
	}
	b := a.As4()
	return bs.has(binary.BigEndian.Uint32(b[:]))
}

// has reports whether the IPv4 address v is in the set.
func (bs *Broadcasts) has(v uint32) bool {
	if v&3 != 3 || bs == nil {
		// Every directed broadcast of a prefix up to /30 ends in two 1
		// bits: three sources in four are told apart here.
		return false
	}
	_, found := slices.BinarySearch(bs.addrs, v)
	return found
}

// Answerable reports whether a request from src may be answered: never from
// port 0, an unspecified address (0.0.0.0/8, ::), a multicast address, the
// limited broadcast 255.255.255.255 (as the package's Answerable), nor from
// an address of the set, IPv4-mapped or not. This is the check Respond
// makes, with the set the Responder holds (SetBroadcasts). It allocates
// nothing.
func (bs *Broadcasts) Answerable(src netip.AddrPort) bool {
	if src.Port() == 0 {
		return false // also the zero AddrPort
	}
	a := src.Addr().Unmap()
	if a.Is4() {
		b := a.As4()
		v := binary.BigEndian.Uint32(b[:])
		// 0.0.0.0/8 is "this network" (0.0.0.0 unspecified), 224.0.0.0/4
		// multicast; 255.255.255.255 is the limited broadcast.
		return v>>24 != 0 && v>>28 != 0xe && v != 0xffff_ffff && !bs.has(v)
	}
	return a.IsValid() && !a.IsUnspecified() && !a.IsMulticast()
}

// Len returns how many addresses the set holds.
func (bs *Broadcasts) Len() int {
	if bs == nil {
		return 0
	}
	return len(bs.addrs)
}

// Addrs returns the addresses of the set, in order.
func (bs *Broadcasts) Addrs() []netip.Addr {
	out := make([]netip.Addr, bs.Len())
	for i := range out {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], bs.addrs[i])
		out[i] = netip.AddrFrom4(b)
	}
	return out
}

// Equal reports whether bs and o hold the same addresses.
func (bs *Broadcasts) Equal(o *Broadcasts) bool {
	if bs.Len() == 0 || o.Len() == 0 {
		return bs.Len() == o.Len()
	}
	return slices.Equal(bs.addrs, o.addrs)
}
