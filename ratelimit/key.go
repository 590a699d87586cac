package ratelimit

import (
	"encoding/binary"
	"hash/maphash"
	"net/netip"
)

// A source is the 128 bits of what the limiter keeps an entry for: an
// address (an IPv4 address as its IPv4-mapped IPv6 form), or an IPv6 address
// cut to the configured prefix length. An entry stores all 128 bits and
// their prefix length, and a request matches an entry only when both are
// equal, so that no two sources can share an allowance, and the entry of
// the address 2001:db8:1:2:: is not the entry of its /64.
//
// The set an entry lives in is chosen by a keyed hash (hash/maphash) of
// those 128 bits with a random seed drawn by New and never revealed (one
// seed for addresses and another for prefixes), so that no one outside the
// process can tell which sources share a set.
//
// This reverses an earlier decision. Sources used to be matched by a 64-bit
// key, an unkeyed and invertible mix of the address ("the key need not be
// secret": it was mixed with a random seed before choosing a set). But two
// addresses with the same key were the same source, and the mix could be
// inverted: a host with an IPv6 /64 could compute, for any victim address
// (IPv4 or IPv6), an address of its own prefix with the victim's key, and
// spend the victim's allowance without spoofing anything (issue 14: the
// victim was answered 1 time in 5). The full address in the entry closes
// that; the secret seed keeps an attacker from aiming at one set to evict
// a chosen source.
//
// An IPv6 address is limited twice: on its own, as an IPv4 address is, and
// as part of its prefix, whose allowance is a multiple of an address's
// (Config.IPv6PrefixShare). A subscriber gets a whole prefix (a /64 at
// least, often a /56 or a /48) where it gets one IPv4 address: limited only
// per address, one host could claim 2^64 fresh bursts and fill the table
// alone; limited only per prefix, one host of a network could spend the
// allowance of all its neighbours.
type source struct {
	hi, lo uint64
}

// sourceOf returns the 128 bits of an address: IPv4 addresses IPv4-mapped.
// The zone is ignored; the zero Addr is the IPv6 address ::.
func sourceOf(a netip.Addr) source {
	b := a.As16() // an IPv4 address comes back IPv4-mapped
	return source{hi: binary.BigEndian.Uint64(b[:8]), lo: binary.BigEndian.Uint64(b[8:])}
}

// isIPv4 says whether s is an IPv4-mapped address (::ffff:0:0/96), which is
// limited as an IPv4 address: on its own, never per prefix.
func (s source) isIPv4() bool { return s.hi == 0 && s.lo>>32 == 0xffff }

// masked returns s with only the bits of the masks kept.
func (s source) masked(hi, lo uint64) source { return source{hi: s.hi & hi, lo: s.lo & lo} }

// prefixMasks returns the masks that keep the first bits bits of an IPv6
// address, as two big-endian halves.
func prefixMasks(bits int) (hi, lo uint64) {
	switch {
	case bits >= 128:
		return ^uint64(0), ^uint64(0)
	case bits > 64:
		return ^uint64(0), ^(^uint64(0) >> (bits - 64))
	case bits > 0:
		return ^(^uint64(0) >> bits), 0
	}
	return 0, 0
}

// hash is the keyed hash of a source that picks its set.
func (s source) hash(seed maphash.Seed) uint64 {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], s.hi)
	binary.LittleEndian.PutUint64(b[8:], s.lo)
	return maphash.Bytes(seed, b[:])
}

// Prefix returns the prefix whose shared allowance a request from a counts
// against, besides the allowance of a itself: for an IPv6 address the
// /IPv6Prefix that holds it; for IPv4 (and IPv4-mapped) addresses, which are
// limited on their own only, a itself as a /32; with IPv6Prefix 128, an IPv6
// address itself as a /128.
func (l *Limiter) Prefix(a netip.Addr) netip.Prefix {
	s := sourceOf(a)
	if s.isIPv4() {
		return netip.PrefixFrom(a.Unmap(), 32)
	}
	s = s.masked(l.hiMask, l.loMask)
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], s.hi)
	binary.BigEndian.PutUint64(b[8:], s.lo)
	return netip.PrefixFrom(netip.AddrFrom16(b), l.cfg.IPv6Prefix)
}
