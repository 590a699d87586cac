// Package ntp is the NTP wire format (RFC 5905): the 48-byte header, 64-bit
// timestamps with their eras, the short format of root delay and dispersion,
// extension fields and MACs after the header (RFC 7822), reference IDs and
// Kiss-o'-Death codes.
//
// The package is pure and built for a server's hot path: encoding and
// decoding work in caller-owned buffers and never allocate, errors are
// sentinel values, and nothing here reads a clock or a socket.
package ntp

import (
	"encoding/binary"
	"errors"
)

// HeaderLen is the length in bytes of the NTP header, the whole of a plain
// NTP packet.
const HeaderLen = 48

// Modes of the NTP association (RFC 5905, figure 10).
const (
	ModeReserved         uint8 = 0
	ModeSymmetricActive  uint8 = 1
	ModeSymmetricPassive uint8 = 2
	ModeClient           uint8 = 3
	ModeServer           uint8 = 4
	ModeBroadcast        uint8 = 5
	ModeControl          uint8 = 6 // ntpq control messages
	ModePrivate          uint8 = 7 // ntpdc private messages
)

// Leap indicator values (RFC 5905, figure 9).
const (
	LeapNone           uint8 = 0 // no leap second announced
	LeapInsert         uint8 = 1 // last minute of the day has 61 seconds
	LeapDelete         uint8 = 2 // last minute of the day has 59 seconds
	LeapUnsynchronised uint8 = 3 // clock not synchronised
)

// Protocol versions.
const (
	Version3 uint8 = 3
	Version4 uint8 = 4
)

// StratumUnsynchronised is the stratum of a server that is not synchronised
// (RFC 5905: 16); stratum 0 marks a Kiss-o'-Death packet.
const StratumUnsynchronised uint8 = 16

// Errors of decoding and encoding. They are sentinel values, so that checking
// them costs no allocation.
var (
	// ErrShort reports a buffer shorter than HeaderLen.
	ErrShort = errors.New("ntp: packet shorter than 48 bytes")
	// ErrField reports a header field out of the range of its bits (leap
	// indicator above 3, version or mode above 7).
	ErrField = errors.New("ntp: header field out of range")
	// ErrTrailer reports extension fields or a MAC with malformed lengths.
	ErrTrailer = errors.New("ntp: malformed extension field or MAC")
)

// Header is the 48-byte NTP header.
type Header struct {
	Leap           uint8 // leap indicator, 2 bits: LeapNone ... LeapUnsynchronised
	Version        uint8 // version number, 3 bits
	Mode           uint8 // association mode, 3 bits: ModeClient, ModeServer, ...
	Stratum        uint8 // 0 Kiss-o'-Death, 1 primary, 2-15 secondary, 16 unsynchronised
	Poll           int8  // log2 of the poll interval in seconds
	Precision      int8  // log2 of the clock's precision in seconds
	RootDelay      Short // round-trip delay to the reference clock
	RootDispersion Short // dispersion to the reference clock
	ReferenceID    uint32
	Reference      Timestamp // when the clock was last set or corrected
	Origin         Timestamp // the client's transmit timestamp, echoed (T1)
	Receive        Timestamp // when the request arrived at the server (T2)
	Transmit       Timestamp // when the reply left the server (T3)
}

// Decode reads the header from the first HeaderLen bytes of b. Any 48 bytes
// decode; checking the version and mode is up to the caller. Bytes after the
// header are ignored (see Trailer). It returns ErrShort if b is too short.
func (h *Header) Decode(b []byte) error {
	if len(b) < HeaderLen {
		return ErrShort
	}
	b = b[:HeaderLen]
	h.Leap = b[0] >> 6
	h.Version = b[0] >> 3 & 7
	h.Mode = b[0] & 7
	h.Stratum = b[1]
	h.Poll = int8(b[2])
	h.Precision = int8(b[3])
	h.RootDelay = Short(binary.BigEndian.Uint32(b[4:]))
	h.RootDispersion = Short(binary.BigEndian.Uint32(b[8:]))
	h.ReferenceID = binary.BigEndian.Uint32(b[12:])
	h.Reference = Timestamp(binary.BigEndian.Uint64(b[16:]))
	h.Origin = Timestamp(binary.BigEndian.Uint64(b[24:]))
	h.Receive = Timestamp(binary.BigEndian.Uint64(b[32:]))
	h.Transmit = Timestamp(binary.BigEndian.Uint64(b[40:]))
	return nil
}

// Encode writes the header into the first HeaderLen bytes of b and leaves the
// rest of b alone. It returns ErrShort if b is too short and ErrField if the
// leap indicator, version or mode do not fit their bits; b is unchanged then.
func (h *Header) Encode(b []byte) error {
	if len(b) < HeaderLen {
		return ErrShort
	}
	if h.Leap > 3 || h.Version > 7 || h.Mode > 7 {
		return ErrField
	}
	b = b[:HeaderLen]
	b[0] = h.Leap<<6 | h.Version<<3 | h.Mode
	b[1] = h.Stratum
	b[2] = byte(h.Poll)
	b[3] = byte(h.Precision)
	binary.BigEndian.PutUint32(b[4:], uint32(h.RootDelay))
	binary.BigEndian.PutUint32(b[8:], uint32(h.RootDispersion))
	binary.BigEndian.PutUint32(b[12:], h.ReferenceID)
	binary.BigEndian.PutUint64(b[16:], uint64(h.Reference))
	binary.BigEndian.PutUint64(b[24:], uint64(h.Origin))
	binary.BigEndian.PutUint64(b[32:], uint64(h.Receive))
	binary.BigEndian.PutUint64(b[40:], uint64(h.Transmit))
	return nil
}

// IsKiss reports whether h is a Kiss-o'-Death packet: a server reply with
// stratum 0, whose reference ID carries the kiss code (see KissCode).
func (h *Header) IsKiss() bool { return h.Stratum == 0 && h.Mode == ModeServer }

// Synchronised reports whether the sender claims synchronised time: a leap
// indicator other than LeapUnsynchronised and a stratum from 1 to 15.
func (h *Header) Synchronised() bool {
	return h.Leap != LeapUnsynchronised && h.Stratum >= 1 && h.Stratum < StratumUnsynchronised
}

// LeapName names a leap indicator the way chronyc does: "Normal",
// "Insert second", "Delete second" or "Not synchronised".
func LeapName(li uint8) string {
	switch li {
	case LeapNone:
		return "Normal"
	case LeapInsert:
		return "Insert second"
	case LeapDelete:
		return "Delete second"
	case LeapUnsynchronised:
		return "Not synchronised"
	}
	return "Invalid"
}
