package nts

import (
	"encoding/binary"
	"errors"
)

// NTS extension field types (RFC 8915 section 5.7).
const (
	EFUniqueID          uint16 = 0x0104 // Unique Identifier
	EFCookie            uint16 = 0x0204 // NTS Cookie
	EFCookiePlaceholder uint16 = 0x0304 // NTS Cookie Placeholder
	EFAuthenticator     uint16 = 0x0404 // NTS Authenticator and Encrypted Extension Fields
)

// Sizes of the extension fields, in bytes.
const (
	efHeaderLen = 4
	efMinLen    = 16 // RFC 7822: the smallest extension field
	// MinUniqueIDLen is the shortest Unique Identifier accepted (RFC 8915
	// section 5.3: at least 32 bytes of random data).
	MinUniqueIDLen = 32
	// NonceLen is the nonce sent in an Authenticator, and the least
	// accepted: chrony's NTS_MIN_UNPADDED_NONCE_LENGTH.
	NonceLen = 16
	// maxPacket bounds the NTS packets handled: longer ones are dropped.
	maxPacket = 1024
)

// Errors of the extension-field layer. Verify and CheckReply errors wrap one
// of them; they are sentinel values so that the server's drop path costs no
// allocation.
var (
	// ErrNotNTS: the packet carries no NTS extension fields at all.
	ErrNotNTS = errors.New("nts: not an NTS packet")
	// ErrFields: extension fields malformed, missing, repeated or out of
	// place, or a packet too long.
	ErrFields = errors.New("nts: malformed NTS extension fields")
	// ErrCookie: the cookie is not one of this server's keys (unknown key
	// ID, truncated, forged, or from a key retired from the ring). The
	// server answers it with an NTS NAK.
	ErrCookie = errors.New("nts: cookie not accepted")
	// ErrAuth: the Authenticator does not verify under the cookie's key.
	ErrAuth = errors.New("nts: authenticator does not verify")
	// ErrNAK: the server answered with an NTS negative acknowledgement (a
	// kiss-o'-death NTSN): its cookie keys are gone; do NTS-KE again.
	ErrNAK = errors.New("nts: server sent an NTS NAK (cookie not accepted): key exchange needed")
	// ErrBuffer: the output buffer is too small.
	ErrBuffer = errors.New("nts: buffer too small")
)

// padded rounds n up to a multiple of 4.
func padded(n int) int { return (n + 3) &^ 3 }

// efLen is the length of an extension field with a body of n bytes.
func efLen(n int) int { return max(efHeaderLen+padded(n), efMinLen) }

// putEF writes an extension field with body into b (which must hold
// efLen(len(body)) bytes, zero padding written) and returns its length.
func putEF(b []byte, typ uint16, body []byte) int {
	n := efLen(len(body))
	binary.BigEndian.PutUint16(b, typ)
	binary.BigEndian.PutUint16(b[2:], uint16(n))
	copy(b[efHeaderLen:], body)
	clear(b[efHeaderLen+len(body) : n])
	return n
}

// field is one extension field found in a packet: where its body is.
type field struct {
	typ       uint16
	off, body int // offset of the field and of its body in the packet
	n         int // length of the whole field
}

// nextField reads the extension field at offset off of b. Fields must be at
// least 16 bytes, multiples of 4, and fit b; the caller walks until
// off == len(b).
func nextField(b []byte, off int) (field, error) {
	if len(b)-off < efMinLen {
		return field{}, ErrFields
	}
	n := int(binary.BigEndian.Uint16(b[off+2:]))
	if n < efMinLen || n%4 != 0 || n > len(b)-off {
		return field{}, ErrFields
	}
	return field{typ: binary.BigEndian.Uint16(b[off:]), off: off, body: off + efHeaderLen, n: n}, nil
}

// authenticator locates the nonce and the ciphertext in the body of an
// Authenticator extension field (RFC 8915 section 5.6): nonce length,
// ciphertext length, nonce padded to 4, ciphertext padded to 4, then padding.
// The nonce area must be at least NonceLen bytes (chrony's rule: a shorter
// nonce is padded to it).
func authenticator(body []byte) (nonce, ciphertext []byte, err error) {
	if len(body) < 4 {
		return nil, nil, ErrFields
	}
	nl := int(binary.BigEndian.Uint16(body))
	cl := int(binary.BigEndian.Uint16(body[2:]))
	rest := body[4:]
	if nl < 1 || cl < 16 || padded(nl)+padded(cl) > len(rest) || max(padded(nl), NonceLen)+padded(cl) > len(rest) {
		return nil, nil, ErrFields
	}
	return rest[:nl], rest[padded(nl) : padded(nl)+cl], nil
}
