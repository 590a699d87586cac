package ratelimit

import (
	"encoding/binary"
	"hash/maphash"
	"net/netip"
)

// A source is what the limiter keeps one entry for: an IPv4 address (as its
// IPv4-mapped IPv6 form), or an IPv6 address cut to the configured prefix
// length. The entry stores all 128 bits and a request matches an entry only
// when they are equal, so that no two sources can share an allowance.
//
// The set a source lives in is chosen by a keyed hash (hash/maphash) of those
// 128 bits with a random seed drawn by New and never revealed, so that no one
// outside the process can tell which sources share a set.
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
// IPv6 sources are grouped by prefix because a subscriber gets a whole
// prefix (a /64 at least, often a /56 or a /48) where it gets one IPv4
// address: limited per address, one host could claim 2^64 fresh bursts and
// fill the table alone.
type source struct {
	hi, lo uint64
}

// sourceOf returns the source an address is limited as: IPv4 and
// IPv4-mapped addresses whole, IPv6 addresses masked by hiMask and loMask.
// The zone is ignored; the zero Addr is the IPv6 address ::.
func sourceOf(a netip.Addr, hiMask, loMask uint64) source {
	b := a.As16() // an IPv4 address comes back IPv4-mapped
	s := source{hi: binary.BigEndian.Uint64(b[:8]), lo: binary.BigEndian.Uint64(b[8:])}
	if !a.Is4() && !a.Is4In6() {
		s.hi &= hiMask
		s.lo &= loMask
	}
	return s
}

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

// Prefix returns the source that a request from a is limited as: a itself
// as a /32 for IPv4 (and IPv4-mapped) addresses, and the /IPv6Prefix that
// holds it for IPv6 addresses. Every address of one prefix shares one entry.
func (l *Limiter) Prefix(a netip.Addr) netip.Prefix {
	if a.Is4() || a.Is4In6() {
		return netip.PrefixFrom(a.Unmap(), 32)
	}
	s := sourceOf(a, l.hiMask, l.loMask)
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], s.hi)
	binary.BigEndian.PutUint64(b[8:], s.lo)
	return netip.PrefixFrom(netip.AddrFrom16(b), l.cfg.IPv6Prefix)
}
