package ratelimit

import (
	"encoding/binary"
	"net/netip"
)

// AddrKey returns the limiter key of a source address: all 128 bits of the
// address folded to 64, with an IPv4-mapped IPv6 address keyed like the IPv4
// address and the zone ignored. It does not allocate.
//
// Each IPv6 address is its own source. (A host that owns a whole /64 can
// therefore claim a fresh burst from each of its addresses; keying by
// prefix would instead make all hosts of a LAN share one allowance.)
//
// The key need not be secret: the Limiter mixes it with a random seed of its
// own before choosing a slot.
func AddrKey(a netip.Addr) uint64 {
	b := a.Unmap().As16()
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	return mix(hi) ^ lo
}
