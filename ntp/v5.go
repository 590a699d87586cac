package ntp

import (
	"encoding/binary"
	"errors"
	"strconv"
	"time"
)

// NTPv5, as draft-ietf-ntp-ntpv5-09 specifies it (an Internet-Draft: the
// format may still change; V5Draft names the revision implemented, and both
// ends of an exchange name theirs in a Draft Identification field).
//
// The v5 header is 48 bytes like the v4 one, and its first four bytes are
// the same (LI, VN = 5, mode, stratum, poll, precision), so that a server
// tells the versions apart by the version field. Then come root delay and
// root dispersion in the time32 format (4.28 fixed point), the timescale,
// the era of the receive timestamp, 16 bits of flags, the server and client
// cookies (which replace the reference ID and the reference and origin
// timestamps) and the receive and transmit timestamps.

// Version5 is the NTP version number of NTPv5.
const Version5 uint8 = 5

// V5Draft names the revision of the NTPv5 draft implemented here, as the
// Draft Identification extension field carries it.
const V5Draft = "draft-ietf-ntp-ntpv5-09"

// Timescale is the timescale of an NTPv5 packet's timestamps: a client names
// the one it wants, and the server says which one it served.
type Timescale uint8

// Timescales of draft-ietf-ntp-ntpv5-09.
const (
	TimescaleUTC     Timescale = 0 // UTC, with leap seconds announced by the leap indicator
	TimescaleTAI     Timescale = 1 // International Atomic Time: no leap seconds
	TimescaleUT1     Timescale = 2 // UT1, the Earth's rotation
	TimescaleSmeared Timescale = 3 // leap-smeared UTC: the leap second spread over a window
)

var timescaleNames = [...]string{TimescaleUTC: "utc", TimescaleTAI: "tai", TimescaleUT1: "ut1", TimescaleSmeared: "smeared"}

// String names the timescale: "utc", "tai", "ut1", "smeared", or
// "timescale N" for a value the draft does not define.
func (t Timescale) String() string {
	if int(t) < len(timescaleNames) {
		return timescaleNames[t]
	}
	return "timescale " + strconv.Itoa(int(t))
}

// ErrTimescale reports a timescale name that is not utc, tai, ut1 or
// smeared.
var ErrTimescale = errors.New("ntp: timescale must be utc, tai, ut1 or smeared")

// ParseTimescale reads a timescale name as String writes it ("leap-smeared"
// is accepted for "smeared").
func ParseTimescale(s string) (Timescale, error) {
	for i, n := range timescaleNames {
		if s == n {
			return Timescale(i), nil
		}
	}
	if s == "leap-smeared" {
		return TimescaleSmeared, nil
	}
	return 0, ErrTimescale
}

// NTPv5 flags (the 16-bit Flags field). Bits not defined here are ignored in
// requests and sent as zero.
const (
	FlagSynchronized uint16 = 1 << 0 // the server is synchronised (responses)
	FlagInterleaved  uint16 = 1 << 1 // interleaved mode asked for (requests) or used (responses)
	FlagAuthNAK      uint16 = 1 << 2 // the server could not authenticate the request
)

// NTPv5 extension field types of draft-ietf-ntp-ntpv5-09 (draft code points,
// from the experimental range; they will change once the draft is an RFC).
const (
	ExtV5Padding          uint16 = 0xF501
	ExtV5MAC              uint16 = 0xF502
	ExtV5RefIDRequest     uint16 = 0xF503
	ExtV5RefIDResponse    uint16 = 0xF504
	ExtV5ServerInfo       uint16 = 0xF505
	ExtV5Correction       uint16 = 0xF506
	ExtV5RefTimestamp     uint16 = 0xF507
	ExtV5MonotonicReceive uint16 = 0xF508
	ExtV5SecondaryReceive uint16 = 0xF509
	ExtV5DraftID          uint16 = 0xF5FF
)

// UpgradeMagic is the reference timestamp an NTPv4 client sends to ask
// whether the server speaks NTPv5 ("NTP5DRFT" in ASCII, while NTPv5 is a
// draft); a server that does echoes it in the reference timestamp of its
// NTPv4 reply.
const UpgradeMagic Timestamp = 0x4E54503544524654

// Time32 is the NTPv5 time32 format of root delay and dispersion: 4 bits of
// seconds and 28 bits of fraction (about 3.7 ns), up to 16 s.
type Time32 uint32

// MaxTime32 is the largest duration a Time32 holds, rounded down to a
// nanosecond.
const MaxTime32 = 16*time.Second - 1

// Time32FromDuration returns d in the time32 format, rounded to the nearest
// 2^-28 s; negative durations give 0 and durations of 16 s or more the
// largest value.
func Time32FromDuration(d time.Duration) Time32 {
	switch {
	case d <= 0:
		return 0
	case d >= 16*time.Second:
		return 1<<32 - 1
	}
	v := (uint64(d)<<28 + nsPerSec/2) / nsPerSec
	if v > 1<<32-1 {
		return 1<<32 - 1
	}
	return Time32(v)
}

// Duration returns t as a duration, rounded to the nearest nanosecond.
func (t Time32) Duration() time.Duration {
	return time.Duration((uint64(t)*nsPerSec + 1<<27) >> 28)
}

// HeaderV5 is the 48-byte NTPv5 header.
type HeaderV5 struct {
	Leap           uint8 // leap indicator, 2 bits; 3 means not synchronised
	Mode           uint8 // ModeClient in requests, ModeServer in responses
	Stratum        uint8
	Poll           int8
	Precision      int8
	RootDelay      Time32
	RootDispersion Time32
	Timescale      Timescale
	Era            uint8 // the NTP era of the receive timestamp
	Flags          uint16
	ServerCookie   uint64
	ClientCookie   uint64
	Receive        Timestamp
	Transmit       Timestamp
}

// Decode reads an NTPv5 header from the first HeaderLen bytes of b,
// whatever its version field says (check it first: b[0]>>3&7). It returns
// ErrShort if b is too short.
func (h *HeaderV5) Decode(b []byte) error {
	if len(b) < HeaderLen {
		return ErrShort
	}
	b = b[:HeaderLen]
	h.Leap = b[0] >> 6
	h.Mode = b[0] & 7
	h.Stratum = b[1]
	h.Poll = int8(b[2])
	h.Precision = int8(b[3])
	h.RootDelay = Time32(binary.BigEndian.Uint32(b[4:]))
	h.RootDispersion = Time32(binary.BigEndian.Uint32(b[8:]))
	h.Timescale = Timescale(b[12])
	h.Era = b[13]
	h.Flags = binary.BigEndian.Uint16(b[14:])
	h.ServerCookie = binary.BigEndian.Uint64(b[16:])
	h.ClientCookie = binary.BigEndian.Uint64(b[24:])
	h.Receive = Timestamp(binary.BigEndian.Uint64(b[32:]))
	h.Transmit = Timestamp(binary.BigEndian.Uint64(b[40:]))
	return nil
}

// Encode writes the header, version 5, into the first HeaderLen bytes of b
// and leaves the rest alone. It returns ErrShort if b is too short and
// ErrField if the leap indicator or mode do not fit their bits.
func (h *HeaderV5) Encode(b []byte) error {
	if len(b) < HeaderLen {
		return ErrShort
	}
	if h.Leap > 3 || h.Mode > 7 {
		return ErrField
	}
	b = b[:HeaderLen]
	b[0] = h.Leap<<6 | Version5<<3 | h.Mode
	b[1] = h.Stratum
	b[2] = byte(h.Poll)
	b[3] = byte(h.Precision)
	binary.BigEndian.PutUint32(b[4:], uint32(h.RootDelay))
	binary.BigEndian.PutUint32(b[8:], uint32(h.RootDispersion))
	b[12] = byte(h.Timescale)
	b[13] = h.Era
	binary.BigEndian.PutUint16(b[14:], h.Flags)
	binary.BigEndian.PutUint64(b[16:], h.ServerCookie)
	binary.BigEndian.PutUint64(b[24:], h.ClientCookie)
	binary.BigEndian.PutUint64(b[32:], uint64(h.Receive))
	binary.BigEndian.PutUint64(b[40:], uint64(h.Transmit))
	return nil
}

// Era returns the NTP era of the instant ns (nanoseconds since the POSIX
// epoch): 0 from 1900 to 2036-02-07T06:28:16Z, 1 for the next 136 years,
// and so on (modulo 256, as the era field holds it; instants before 1900
// count from era 255 down).
func Era(ns int64) uint8 {
	sec := ns / nsPerSec
	if ns%nsPerSec < 0 {
		sec--
	}
	sec += unixToNTP
	era := sec >> 32 // arithmetic shift: floor division by 2^32
	return uint8(era)
}

// ErrTrailerV5 reports NTPv5 extension fields with malformed lengths.
var ErrTrailerV5 = errors.New("ntp: malformed NTPv5 extension field")

// ExtensionV5 is one NTPv5 extension field: its type and its value (without
// the padding to four bytes).
type ExtensionV5 struct {
	Type  uint16
	Value []byte
}

// NextExtensionV5 reads the NTPv5 extension field at the start of b, which
// holds what follows the header (or the rest of it). An NTPv5 field is a
// 16-bit type, a 16-bit length counting the type, length and value but not
// the padding, the value, and zero to three bytes of padding to a multiple
// of four. It returns the field and what follows it; ok is false when b is
// empty. Lengths below 4 or beyond b, and a b that is not a multiple of four
// bytes, are ErrTrailerV5. The value aliases b: nothing is copied.
func NextExtensionV5(b []byte) (f ExtensionV5, rest []byte, ok bool, err error) {
	if len(b) == 0 {
		return ExtensionV5{}, nil, false, nil
	}
	if len(b) < 4 || len(b)%4 != 0 {
		return ExtensionV5{}, nil, false, ErrTrailerV5
	}
	n := int(binary.BigEndian.Uint16(b[2:]))
	padded := (n + 3) &^ 3
	if n < 4 || padded > len(b) {
		return ExtensionV5{}, nil, false, ErrTrailerV5
	}
	return ExtensionV5{Type: binary.BigEndian.Uint16(b), Value: b[4:n]}, b[padded:], true, nil
}

// ExtensionV5Len returns the bytes a field with a value of n bytes takes,
// padding included.
func ExtensionV5Len(n int) int { return (4 + n + 3) &^ 3 }

// PutExtensionV5 writes an NTPv5 extension field of type typ and value
// value, padded with zeros to a multiple of four bytes, at the start of b.
// It returns the bytes written, 0 if b is too short or the value too long
// for the 16-bit length.
func PutExtensionV5(b []byte, typ uint16, value []byte) int {
	n := 4 + len(value)
	size := ExtensionV5Len(len(value))
	if n > 0xffff || size > len(b) {
		return 0
	}
	binary.BigEndian.PutUint16(b, typ)
	binary.BigEndian.PutUint16(b[2:], uint16(n))
	copy(b[4:], value)
	clear(b[n:size])
	return size
}

// PutPaddingV5 fills b (a multiple of four bytes, at least 4) with one
// Padding extension field, so that a reply reaches the length of its
// request. It returns the bytes written: len(b), or 0 if b cannot hold one.
func PutPaddingV5(b []byte) int {
	if len(b) < 4 || len(b)%4 != 0 || len(b) > 0xffff {
		return 0
	}
	binary.BigEndian.PutUint16(b, ExtV5Padding)
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	clear(b[4:])
	return len(b)
}
