package ntp

import (
	"crypto/md5"
	"errors"
	"math/bits"
	"net/netip"
	"strconv"
	"time"
)

// refID packs four ASCII letters into a reference ID, first letter highest.
func refID(a, b, c, d byte) uint32 {
	return uint32(a)<<24 | uint32(b)<<16 | uint32(c)<<8 | uint32(d)
}

// Kiss-o'-Death codes, as reference IDs: four ASCII letters, first letter in
// the highest byte (RFC 5905 section 7.4; NTSN from RFC 8915).
const (
	KissACST uint32 = 0x41435354 // "ACST": the association belongs to a unicast server
	KissAUTH uint32 = 0x41555448 // "AUTH": server authentication failed
	KissAUTO uint32 = 0x4155544f // "AUTO": Autokey sequence failed
	KissBCST uint32 = 0x42435354 // "BCST": the association belongs to a broadcast server
	KissCRYP uint32 = 0x43525950 // "CRYP": cryptographic authentication or identification failed
	KissDENY uint32 = 0x44454e59 // "DENY": access denied: stop sending to this server
	KissDROP uint32 = 0x44524f50 // "DROP": lost peer in symmetric mode
	KissRSTR uint32 = 0x52535452 // "RSTR": access denied by local policy: stop sending
	KissINIT uint32 = 0x494e4954 // "INIT": the association has not yet synchronised
	KissMCST uint32 = 0x4d435354 // "MCST": the association belongs to a dynamically discovered server
	KissNKEY uint32 = 0x4e4b4559 // "NKEY": no key found
	KissRATE uint32 = 0x52415445 // "RATE": rate exceeded: poll less often
	KissRMOT uint32 = 0x524d4f54 // "RMOT": alteration of the association from a remote host
	KissSTEP uint32 = 0x53544550 // "STEP": a step change in system time, not yet resynchronised
	KissNTSN uint32 = 0x4e54534e // "NTSN": NTS negative acknowledgement (RFC 8915)
)

// KissCode returns the kiss code carried by a Kiss-o'-Death reference ID, such
// as "RATE". Codes are up to four printable ASCII characters, left-justified
// and zero-filled; a reference ID that is not such a code is returned as eight
// hexadecimal digits ("0x0000ffff"). Known codes cost no allocation.
func KissCode(refid uint32) string {
	switch refid {
	case KissACST:
		return "ACST"
	case KissAUTH:
		return "AUTH"
	case KissAUTO:
		return "AUTO"
	case KissBCST:
		return "BCST"
	case KissCRYP:
		return "CRYP"
	case KissDENY:
		return "DENY"
	case KissDROP:
		return "DROP"
	case KissRSTR:
		return "RSTR"
	case KissINIT:
		return "INIT"
	case KissMCST:
		return "MCST"
	case KissNKEY:
		return "NKEY"
	case KissRATE:
		return "RATE"
	case KissRMOT:
		return "RMOT"
	case KissSTEP:
		return "STEP"
	case KissNTSN:
		return "NTSN"
	}
	if s, ok := asciiRefID(refid); ok {
		return s
	}
	return hexRefID(refid)
}

// asciiRefID returns the letters of refid if it is one to four printable
// ASCII characters followed by zero bytes.
func asciiRefID(refid uint32) (string, bool) {
	var b [4]byte
	n := 0
	for i := range 4 {
		c := byte(refid >> (24 - 8*i))
		switch {
		case c == 0:
			// zero fill: every following byte must be zero too
			if refid<<(8*i) != 0 {
				return "", false
			}
			if n == 0 {
				return "", false
			}
			return string(b[:n]), true
		case c <= 0x20 || c > 0x7e:
			return "", false
		}
		b[n] = c
		n++
	}
	return string(b[:n]), true
}

// hexRefID renders refid as "0x" and eight hexadecimal digits.
func hexRefID(refid uint32) string {
	s := strconv.FormatUint(uint64(refid)|1<<32, 16) // leading 1 keeps the zeros
	return "0x" + s[1:]
}

// ErrRefID reports a reference ID string that is not one to four printable
// ASCII characters.
var ErrRefID = errors.New("ntp: reference ID must be 1 to 4 printable ASCII characters")

// RefIDFromString returns the reference ID of a stratum-1 source or kiss code
// given as one to four printable ASCII characters other than space,
// zero-filled: "GPS", "LOCL".
func RefIDFromString(s string) (uint32, error) {
	if len(s) == 0 || len(s) > 4 {
		return 0, ErrRefID
	}
	var id uint32
	for i := range 4 {
		id <<= 8
		if i < len(s) {
			c := s[i]
			if c <= 0x20 || c > 0x7e {
				return 0, ErrRefID
			}
			id |= uint32(c)
		}
	}
	return id, nil
}

// RefIDFromAddr returns the reference ID a server of stratum 2 or more uses
// for an upstream server at addr (RFC 5905): the IPv4 address itself, or for
// IPv6 the first four bytes of the MD5 digest of the address. An IPv4-mapped
// IPv6 address counts as IPv4; the zero Addr gives 0.
func RefIDFromAddr(addr netip.Addr) uint32 {
	addr = addr.Unmap()
	switch {
	case addr.Is4():
		a := addr.As4()
		return refID(a[0], a[1], a[2], a[3])
	case addr.Is6():
		a := addr.As16()
		sum := md5.Sum(a[:])
		return refID(sum[0], sum[1], sum[2], sum[3])
	}
	return 0
}

// FormatRefID renders a reference ID for people, the way it is meant at the
// given stratum: the ASCII letters of a kiss code (stratum 0) or reference
// clock (stratum 1: "GPS", "LOCL") when they are printable, otherwise a
// dotted IPv4 address (at stratum 2 and up the upstream server; an IPv6
// upstream's hash reads as an address too). A stratum-0 reference ID that is
// not a code reads as hexadecimal digits.
func FormatRefID(refid uint32, stratum uint8) string {
	if stratum <= 1 {
		if s, ok := asciiRefID(refid); ok {
			return s
		}
		if stratum == 0 {
			return hexRefID(refid)
		}
	}
	return netip.AddrFrom4([4]byte{byte(refid >> 24), byte(refid >> 16), byte(refid >> 8), byte(refid)}).String()
}

// Precision returns the precision field for a clock whose resolution (or
// reading cost) is d: log2 of d in seconds, rounded up, so that 2^p s >= d.
// Durations below 1 ns count as 1 ns (-29).
func Precision(d time.Duration) int8 {
	if d < 1 {
		d = 1
	}
	if d <= nsPerSec {
		p := int8(0)
		// d << -p stays below 2^60 because d <= 1e9 < 2^30 and -p <= 30.
		for p > -30 && uint64(d)<<(-p+1) <= nsPerSec {
			p--
		}
		return p
	}
	// 2^p s >= d for p = ceil(log2(ceil(d/1s))).
	secs := (uint64(d) + nsPerSec - 1) / nsPerSec
	return int8(bits.Len64(secs - 1))
}

// PrecisionDuration returns 2^p seconds as a duration, rounded to the nearest
// nanosecond (0 below 2^-32 s, saturating above 2^33 s).
func PrecisionDuration(p int8) time.Duration {
	switch {
	case p >= 34:
		return time.Duration(1<<63 - 1)
	case p >= 0:
		return time.Duration(nsPerSec << p)
	case p < -32:
		return 0
	}
	return time.Duration((nsPerSec<<32>>(-p) + 1<<31) >> 32)
}

// Leap-smear reference IDs. A server that serves leap-smeared time may say
// so in the reference ID of its replies, in one of two conventions:
//
//   - draft-stenn-ntp-leap-smear-refid, as ntpd implements it: 254 in the
//     first byte (254.0.0.0/8 is reserved, never an upstream's address),
//     then the current smear offset (RefIDFromSmear);
//   - chrony's: 127.127.1.255 while it serves smoothed time (smoothtime),
//     without the offset.
//
// A stratum-2 server's reference ID is otherwise an upstream's IPv4 address
// or the hash of an IPv6 one; one such hash in 256 starts with 254, so a
// client cannot tell a smear from a hash with certainty outside a window.
const (
	// RefIDChronySmooth is chrony's reference ID while it serves smoothed
	// time: 127.127.1.255.
	RefIDChronySmooth uint32 = 0x7F7F01FF
	// refIDSmearByte is the first byte of a draft leap-smear reference ID.
	refIDSmearByte = 0xFE
	// smearFracBits is the number of fraction bits of the offset carried.
	smearFracBits = 22
)

// RefIDFromSmear returns the leap-smear reference ID of
// draft-stenn-ntp-leap-smear-refid for a smear offset (the time served minus
// true UTC): 254 in the first byte, and the offset in the other 24 bits as a
// two's-complement fixed-point number of 2 integer and 22 fraction bits
// (units of 2^-22 s, about 238 ns), rounded to the nearest unit. It holds
// offsets from -2 s to just under +2 s; a leap smear stays within ±1 s.
func RefIDFromSmear(offset time.Duration) uint32 {
	// offset*2^22 stays below 2^63 for |offset| < 2^41 ns (36 minutes).
	units := floorDiv(int64(offset)<<smearFracBits+nsPerSec/2, nsPerSec)
	return refIDSmearByte<<24 | uint32(units)&0xFFFFFF
}

// SmearFromRefID reads a reference ID as RefIDFromSmear writes it: the smear
// offset it carries (rounded to the nanosecond), and whether refid is one at
// all (its first byte is 254).
func SmearFromRefID(refid uint32) (time.Duration, bool) {
	if refid>>24 != refIDSmearByte {
		return 0, false
	}
	units := int64(int32(refid<<8) >> 8) // sign-extend the 24 bits
	return time.Duration(floorDiv(units*nsPerSec+1<<(smearFracBits-1), 1<<smearFracBits)), true
}

// floorDiv divides rounding towards negative infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
