package ntp

import "encoding/binary"

// Lengths of what may follow the header (RFC 5905 section 7.3, RFC 7822).
const (
	// ExtensionMinLen is the smallest extension field: type, length and at
	// least 12 bytes of value.
	ExtensionMinLen = 16
	// CryptoNAKLen is the length of a crypto-NAK: a MAC of only a zero key ID.
	CryptoNAKLen = 4
	// MACLenMD5 is a key ID and a 128-bit digest.
	MACLenMD5 = 4 + 16
	// MACLenSHA1 is a key ID and a 160-bit digest, the longest MAC an NTPv4
	// packet with extension fields may carry (RFC 7822).
	MACLenSHA1 = 4 + 20
	// maxV3MACLen bounds the MAC of an NTPv3 packet: a key ID and a 512-bit
	// digest, or an MS-SNTP extended authenticator (4+4+64).
	maxV3MACLen = 72
)

// Trailer walks what follows the header of the packet pkt: NTPv4 extension
// fields (RFC 7822) and a trailing MAC. It returns the number of extension
// fields and the length of the MAC in bytes (0 when there is none, 4 for a
// crypto-NAK, 20 or 24 for a key ID and digest), and never reads outside pkt.
//
// The rules, after RFC 7822: what follows the header is a multiple of 4 bytes;
// 4 zero bytes alone are a crypto-NAK; a remainder of 20 or 24 bytes is a MAC;
// anything else is an extension field of at least 16 bytes whose length is a
// multiple of 4 and fits the packet. NTPv3 and older packets have no
// extension fields: anything after their header is a MAC of 20 to 72 bytes.
// It returns ErrShort if pkt is shorter than the header and ErrTrailer for
// any other shape.
func Trailer(pkt []byte) (extensions, mac int, err error) {
	if len(pkt) < HeaderLen {
		return 0, 0, ErrShort
	}
	rest := pkt[HeaderLen:]
	switch {
	case len(rest) == 0:
		return 0, 0, nil
	case len(rest)%4 != 0:
		return 0, 0, ErrTrailer
	case len(rest) == CryptoNAKLen:
		if binary.BigEndian.Uint32(rest) != 0 {
			return 0, 0, ErrTrailer
		}
		return 0, CryptoNAKLen, nil
	case pkt[0]>>3&7 <= Version3:
		if len(rest) < MACLenMD5 || len(rest) > maxV3MACLen {
			return 0, 0, ErrTrailer
		}
		return 0, len(rest), nil
	}
	for len(rest) > 0 {
		if len(rest) == MACLenMD5 || len(rest) == MACLenSHA1 {
			return extensions, len(rest), nil
		}
		if len(rest) < ExtensionMinLen {
			return 0, 0, ErrTrailer
		}
		n := int(binary.BigEndian.Uint16(rest[2:]))
		if n < ExtensionMinLen || n%4 != 0 || n > len(rest) {
			return 0, 0, ErrTrailer
		}
		rest = rest[n:]
		extensions++
	}
	return extensions, 0, nil
}

// FindExtension returns where the first NTPv4 extension field of type typ
// starts in the packet pkt and its length, walking what follows the header
// as Trailer does; ok is false when pkt has no such field or its trailer is
// malformed. It never reads outside pkt and allocates nothing.
func FindExtension(pkt []byte, typ uint16) (start, n int, ok bool) {
	if _, _, err := Trailer(pkt); err != nil || len(pkt) <= HeaderLen || pkt[0]>>3&7 <= Version3 {
		return 0, 0, false
	}
	off := HeaderLen
	for len(pkt)-off >= ExtensionMinLen {
		rest := len(pkt) - off
		if rest == MACLenMD5 || rest == MACLenSHA1 {
			return 0, 0, false
		}
		l := int(binary.BigEndian.Uint16(pkt[off+2:]))
		if binary.BigEndian.Uint16(pkt[off:]) == typ {
			return off, l, true
		}
		off += l
	}
	return 0, 0, false
}
