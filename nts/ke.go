// Package nts is Network Time Security (RFC 8915) without the network: the
// NTS Key Establishment records, the NTS extension fields of NTP packets,
// cookies and the key ring that seals them, the server's verification of an
// authenticated request and its reply, and the client's side of both.
//
// The package is pure: it reads no clock, file or socket. Time comes in as
// POSIX seconds, randomness through an io.Reader, TLS keying material as
// bytes. The server's per-packet work (Server.Verify and Server.Reply) writes
// into caller-owned buffers and, for a client association it has seen before,
// allocates nothing. The AEAD is AES-SIV-CMAC-256 (IANA AEAD algorithm 15),
// the one RFC 8915 requires and the one chrony speaks.
package nts

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// NTS-KE record types (RFC 8915 section 4.1).
const (
	RecordEnd             uint16 = 0 // End of Message
	RecordNextProtocol    uint16 = 1 // NTS Next Protocol Negotiation
	RecordError           uint16 = 2 // Error
	RecordWarning         uint16 = 3 // Warning
	RecordAEAD            uint16 = 4 // AEAD Algorithm Negotiation
	RecordNewCookie       uint16 = 5 // New Cookie for NTPv4
	RecordServer          uint16 = 6 // NTPv4 Server Negotiation
	RecordPort            uint16 = 7 // NTPv4 Port Negotiation
	criticalBit           uint16 = 0x8000
	recordHeaderLen              = 4
	maxRecordType         uint16 = 0x7fff
	protocolListMaxLength        = 64 // protocol or AEAD IDs in one record
)

// Identifiers negotiated by NTS-KE.
const (
	// ProtocolNTPv4 is the Next Protocol ID of NTPv4.
	ProtocolNTPv4 uint16 = 0
	// AEADAESSIVCMAC256 is AEAD_AES_SIV_CMAC_256, the one algorithm spoken.
	AEADAESSIVCMAC256 uint16 = 15
	// ALPN is the TLS application protocol of NTS-KE.
	ALPN = "ntske/1"
	// ExporterLabel is the TLS exporter label of the NTS keys (RFC 8915
	// section 5.1).
	ExporterLabel = "EXPORTER-network-time-security"
	// DefaultKEPort is the NTS-KE port (IANA).
	DefaultKEPort = 4460
	// KeyLen is the length of the C2S and S2C keys of AES-SIV-CMAC-256.
	KeyLen = 32
)

// NTS-KE error codes (RFC 8915 section 4.1.3).
const (
	ErrorUnrecognizedCritical uint16 = 0
	ErrorBadRequest           uint16 = 1
	ErrorInternal             uint16 = 2
)

// Limits on an NTS-KE message, in either direction. A peer that sends more
// is refused, so that a hostile one cannot make us buffer without bound.
const (
	// MaxMessageLen bounds a whole message (all its records).
	MaxMessageLen = 16384
	// MaxRecords bounds the records of a message.
	MaxRecords = 64
	// MaxCookieLen bounds one cookie a server hands out; chrony's bound.
	MaxCookieLen = 256
	// MaxCookies is how many cookies a server hands out in NTS-KE and
	// replaces per request at most.
	MaxCookies = 8
	// maxServerName bounds the NTPv4 Server record.
	maxServerName = 255
)

// Record is one NTS-KE record.
type Record struct {
	Critical bool
	Type     uint16 // 0 to 0x7fff
	Body     []byte
}

// Errors of NTS-KE parsing. Parse errors wrap one of them.
var (
	// ErrIncomplete: the bytes end before the End of Message record; read
	// more.
	ErrIncomplete = errors.New("nts-ke: message incomplete")
	// ErrTooLong: the message exceeds MaxMessageLen or MaxRecords.
	ErrTooLong = errors.New("nts-ke: message too long")
	// ErrMalformed: a record is malformed or out of place.
	ErrMalformed = errors.New("nts-ke: malformed message")
	// ErrCritical: a critical record of a type not understood.
	ErrCritical = errors.New("nts-ke: unrecognised critical record")
)

// AppendRecord appends the encoding of one record to b.
func AppendRecord(b []byte, critical bool, typ uint16, body []byte) []byte {
	t := typ & maxRecordType
	if critical {
		t |= criticalBit
	}
	b = binary.BigEndian.AppendUint16(b, t)
	b = binary.BigEndian.AppendUint16(b, uint16(len(body)))
	return append(b, body...)
}

// appendU16s appends a record whose body is a list of 16-bit values.
func appendU16s(b []byte, critical bool, typ uint16, vs ...uint16) []byte {
	t := typ & maxRecordType
	if critical {
		t |= criticalBit
	}
	b = binary.BigEndian.AppendUint16(b, t)
	b = binary.BigEndian.AppendUint16(b, uint16(2*len(vs)))
	for _, v := range vs {
		b = binary.BigEndian.AppendUint16(b, v)
	}
	return b
}

// MessageLen returns the length of the complete message at the start of b:
// its records up to and including End of Message. It returns ErrIncomplete
// while b ends before that, ErrTooLong as soon as the message would exceed
// MaxMessageLen or MaxRecords, and ErrMalformed for an End record with a
// body. A reader calls it on what it has read so far.
func MessageLen(b []byte) (int, error) {
	off := 0
	for n := 0; ; n++ {
		if n >= MaxRecords {
			return 0, ErrTooLong
		}
		if off+recordHeaderLen > MaxMessageLen {
			return 0, ErrTooLong
		}
		if len(b)-off < recordHeaderLen {
			return 0, ErrIncomplete
		}
		typ := binary.BigEndian.Uint16(b[off:]) & maxRecordType
		l := int(binary.BigEndian.Uint16(b[off+2:]))
		end := off + recordHeaderLen + l
		if end > MaxMessageLen {
			return 0, ErrTooLong
		}
		if typ == RecordEnd {
			if l != 0 {
				return 0, fmt.Errorf("%w: End of Message with a %d-byte body", ErrMalformed, l)
			}
			if len(b) < end {
				return 0, ErrIncomplete
			}
			return end, nil
		}
		if len(b) < end {
			return 0, ErrIncomplete
		}
		off = end
	}
}

// Records splits a complete message (see MessageLen) into its records, which
// alias msg. The last one is End of Message; bytes after it are an error.
func Records(msg []byte) ([]Record, error) {
	n, err := MessageLen(msg)
	if err != nil {
		return nil, err
	}
	if n != len(msg) {
		return nil, fmt.Errorf("%w: %d bytes after End of Message", ErrMalformed, len(msg)-n)
	}
	var out []Record
	for off := 0; off < n; {
		t := binary.BigEndian.Uint16(msg[off:])
		l := int(binary.BigEndian.Uint16(msg[off+2:]))
		out = append(out, Record{Critical: t&criticalBit != 0, Type: t & maxRecordType,
			Body: msg[off+recordHeaderLen : off+recordHeaderLen+l]})
		off += recordHeaderLen + l
	}
	return out, nil
}

// u16s reads a record body that is a list of 16-bit values.
func u16s(r Record) ([]uint16, error) {
	if len(r.Body)%2 != 0 || len(r.Body)/2 > protocolListMaxLength {
		return nil, fmt.Errorf("%w: %s record of %d bytes", ErrMalformed, RecordName(r.Type), len(r.Body))
	}
	out := make([]uint16, len(r.Body)/2)
	for i := range out {
		out[i] = binary.BigEndian.Uint16(r.Body[2*i:])
	}
	return out, nil
}

// RecordName names a record type for messages.
func RecordName(t uint16) string {
	switch t {
	case RecordEnd:
		return "End of Message"
	case RecordNextProtocol:
		return "Next Protocol"
	case RecordError:
		return "Error"
	case RecordWarning:
		return "Warning"
	case RecordAEAD:
		return "AEAD Algorithm"
	case RecordNewCookie:
		return "New Cookie"
	case RecordServer:
		return "NTPv4 Server"
	case RecordPort:
		return "NTPv4 Port"
	}
	return "type " + strconv.Itoa(int(t))
}

// KERequest is what a client asks in NTS-KE.
type KERequest struct {
	Protocols []uint16 // Next Protocol IDs, in the client's order of preference
	AEADs     []uint16 // AEAD algorithm IDs, in the client's order of preference
}

// Append appends the request's message (Next Protocol, AEAD, End) to b.
func (q KERequest) Append(b []byte) []byte {
	b = appendU16s(b, true, RecordNextProtocol, q.Protocols...)
	if len(q.AEADs) > 0 {
		b = appendU16s(b, true, RecordAEAD, q.AEADs...)
	}
	return AppendRecord(b, true, RecordEnd, nil)
}

// KEError is an NTS-KE Error record, sent or received.
type KEError struct {
	Code uint16
	Err  error // the cause, for logs; not sent
}

func (e *KEError) Error() string {
	name := "error " + strconv.Itoa(int(e.Code))
	switch e.Code {
	case ErrorUnrecognizedCritical:
		name = "unrecognised critical record"
	case ErrorBadRequest:
		name = "bad request"
	case ErrorInternal:
		name = "internal server error"
	}
	if e.Err != nil {
		return "nts-ke: " + name + ": " + e.Err.Error()
	}
	return "nts-ke: " + name
}

func (e *KEError) Unwrap() error { return e.Err }

// ParseKERequest reads a client's complete message strictly: one Next
// Protocol record, at most one AEAD record, both critical or not, no records
// that only servers send, unknown non-critical records ignored. An error is
// a *KEError carrying the code to answer with.
func ParseKERequest(msg []byte) (KERequest, error) {
	recs, err := Records(msg)
	if err != nil {
		return KERequest{}, &KEError{Code: ErrorBadRequest, Err: err}
	}
	var q KERequest
	seenProto, seenAEAD := false, false
	for _, r := range recs {
		switch r.Type {
		case RecordEnd:
		case RecordNextProtocol:
			if seenProto {
				return q, &KEError{Code: ErrorBadRequest, Err: fmt.Errorf("%w: two Next Protocol records", ErrMalformed)}
			}
			seenProto = true
			if q.Protocols, err = u16s(r); err != nil {
				return q, &KEError{Code: ErrorBadRequest, Err: err}
			}
		case RecordAEAD:
			if seenAEAD {
				return q, &KEError{Code: ErrorBadRequest, Err: fmt.Errorf("%w: two AEAD records", ErrMalformed)}
			}
			seenAEAD = true
			if q.AEADs, err = u16s(r); err != nil {
				return q, &KEError{Code: ErrorBadRequest, Err: err}
			}
		case RecordError, RecordWarning, RecordNewCookie:
			return q, &KEError{Code: ErrorBadRequest, Err: fmt.Errorf("%w: %s record from a client", ErrMalformed, RecordName(r.Type))}
		case RecordServer, RecordPort:
			// A client's preference: allowed, and not followed.
		default:
			if r.Critical {
				return q, &KEError{Code: ErrorUnrecognizedCritical, Err: fmt.Errorf("%w: %s", ErrCritical, RecordName(r.Type))}
			}
		}
	}
	if !seenProto {
		return q, &KEError{Code: ErrorBadRequest, Err: fmt.Errorf("%w: no Next Protocol record", ErrMalformed)}
	}
	return q, nil
}

// KEResponse is what a server answers in NTS-KE.
type KEResponse struct {
	// Error, when set, is the whole answer: an Error record and End.
	Error *uint16
	// Protocol and AEAD are the negotiated IDs; HasProtocol and HasAEAD
	// false send the empty record that says none was acceptable.
	Protocol, AEAD       uint16
	HasProtocol, HasAEAD bool
	// Cookies for NTPv4, each at most MaxCookieLen bytes.
	Cookies [][]byte
	// Server and Port, when set, name where to send NTPv4 requests.
	Server string
	Port   uint16
}

// Append appends the response's message to b.
func (r *KEResponse) Append(b []byte) []byte {
	if r.Error != nil {
		b = appendU16s(b, true, RecordError, *r.Error)
		return AppendRecord(b, true, RecordEnd, nil)
	}
	if r.HasProtocol {
		b = appendU16s(b, true, RecordNextProtocol, r.Protocol)
	} else {
		b = appendU16s(b, true, RecordNextProtocol)
	}
	if r.HasAEAD {
		b = appendU16s(b, true, RecordAEAD, r.AEAD)
	} else {
		b = appendU16s(b, true, RecordAEAD)
	}
	if r.Server != "" {
		b = AppendRecord(b, true, RecordServer, []byte(r.Server))
	}
	if r.Port != 0 {
		b = appendU16s(b, true, RecordPort, r.Port)
	}
	for _, c := range r.Cookies {
		b = AppendRecord(b, false, RecordNewCookie, c)
	}
	return AppendRecord(b, true, RecordEnd, nil)
}

// ParseKEResponse reads a server's complete message strictly, as a client
// must: an Error record is returned as a *KEError; otherwise exactly one Next
// Protocol and one AEAD record each naming one ID, cookies of 1 to
// MaxCookieLen bytes (at most MaxCookies are kept), at most one Server and one
// Port record; unknown critical records are refused, unknown others ignored.
// Cookies alias msg.
func ParseKEResponse(msg []byte) (KEResponse, error) {
	var r KEResponse
	recs, err := Records(msg)
	if err != nil {
		return r, err
	}
	seen := map[uint16]bool{}
	for _, rec := range recs {
		switch rec.Type {
		case RecordEnd, RecordNewCookie, RecordWarning:
		default:
			if seen[rec.Type] {
				return r, fmt.Errorf("%w: two %s records", ErrMalformed, RecordName(rec.Type))
			}
			seen[rec.Type] = true
		}
		switch rec.Type {
		case RecordEnd:
		case RecordError:
			if len(rec.Body) != 2 {
				return r, fmt.Errorf("%w: Error record of %d bytes", ErrMalformed, len(rec.Body))
			}
			return r, &KEError{Code: binary.BigEndian.Uint16(rec.Body)}
		case RecordWarning:
			if len(rec.Body) != 2 {
				return r, fmt.Errorf("%w: Warning record of %d bytes", ErrMalformed, len(rec.Body))
			}
			// Warnings are not fatal; none is defined.
		case RecordNextProtocol, RecordAEAD:
			vs, err := u16s(rec)
			if err != nil {
				return r, err
			}
			if len(vs) > 1 {
				return r, fmt.Errorf("%w: server named %d values in its %s record", ErrMalformed, len(vs), RecordName(rec.Type))
			}
			if rec.Type == RecordNextProtocol && len(vs) == 1 {
				r.Protocol, r.HasProtocol = vs[0], true
			} else if len(vs) == 1 {
				r.AEAD, r.HasAEAD = vs[0], true
			}
		case RecordNewCookie:
			if len(rec.Body) == 0 || len(rec.Body) > MaxCookieLen {
				return r, fmt.Errorf("%w: cookie of %d bytes", ErrMalformed, len(rec.Body))
			}
			if len(r.Cookies) < MaxCookies {
				r.Cookies = append(r.Cookies, rec.Body)
			}
		case RecordServer:
			if len(rec.Body) == 0 || len(rec.Body) > maxServerName || !printableASCII(rec.Body) {
				return r, fmt.Errorf("%w: NTPv4 Server record %q", ErrMalformed, rec.Body)
			}
			r.Server = string(rec.Body)
		case RecordPort:
			if len(rec.Body) != 2 {
				return r, fmt.Errorf("%w: NTPv4 Port record of %d bytes", ErrMalformed, len(rec.Body))
			}
			r.Port = binary.BigEndian.Uint16(rec.Body)
			if r.Port == 0 {
				return r, fmt.Errorf("%w: NTPv4 Port 0", ErrMalformed)
			}
		default:
			if rec.Critical {
				return r, fmt.Errorf("%w: %s", ErrCritical, RecordName(rec.Type))
			}
		}
	}
	switch {
	case !seen[RecordNextProtocol]:
		return r, fmt.Errorf("%w: no Next Protocol record", ErrMalformed)
	case !seen[RecordAEAD] && r.HasProtocol:
		return r, fmt.Errorf("%w: no AEAD record", ErrMalformed)
	}
	return r, nil
}

func printableASCII(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

// ExporterContext returns the TLS exporter context of the C2S key (s2c
// false) or S2C key (s2c true) of NTPv4 with the given AEAD (RFC 8915 section
// 5.1): the protocol ID, the AEAD ID and 0 or 1.
func ExporterContext(aead uint16, s2c bool) []byte {
	c := []byte{0, 0, byte(aead >> 8), byte(aead), 0}
	if s2c {
		c[4] = 1
	}
	return c
}
