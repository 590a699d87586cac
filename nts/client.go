package nts

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/leapsmear/leapsmear/internal/aessiv"
)

// Negotiate answers a parsed NTS-KE request the way this server can: NTPv4
// and AES-SIV-CMAC-256 when the client offers them, else the empty records
// that say none was acceptable (then ok is false and no cookies may be
// sent). A request offering NTPv4 without an AEAD record is a bad request.
func Negotiate(q KERequest) (r KEResponse, ok bool) {
	for _, p := range q.Protocols {
		if p == ProtocolNTPv4 {
			r.Protocol, r.HasProtocol = p, true
			break
		}
	}
	if !r.HasProtocol {
		return r, false
	}
	if len(q.AEADs) == 0 {
		code := ErrorBadRequest
		return KEResponse{Error: &code}, false
	}
	for _, a := range q.AEADs {
		if a == AEADAESSIVCMAC256 {
			r.AEAD, r.HasAEAD = a, true
			break
		}
	}
	return r, r.HasAEAD
}

// Session is a client's NTS association with one server: the keys from
// NTS-KE and the cookies not yet used. It is not safe for concurrent use.
type Session struct {
	keys     Keys
	c2s, s2c *aessiv.Cipher
	s        *aessiv.Scratch
	cookies  [][]byte
	plain    []byte
}

// NewSession starts an association from the exported keys and the cookies
// NTS-KE gave (copied).
func NewSession(keys Keys, cookies [][]byte) (*Session, error) {
	if keys.AEAD != AEADAESSIVCMAC256 {
		return nil, fmt.Errorf("nts: AEAD algorithm %d not supported", keys.AEAD)
	}
	c2s, err := aessiv.New(keys.C2S[:])
	if err != nil {
		return nil, err
	}
	s2c, err := aessiv.New(keys.S2C[:])
	if err != nil {
		return nil, err
	}
	s := &Session{keys: keys, c2s: c2s, s2c: s2c, s: new(aessiv.Scratch), plain: make([]byte, maxPacket)}
	for _, c := range cookies {
		s.AddCookie(c)
	}
	return s, nil
}

// Cookies returns the number of unused cookies.
func (s *Session) Cookies() int { return len(s.cookies) }

// AddCookie keeps a copy of a cookie for a later request; beyond MaxCookies
// the oldest is dropped.
func (s *Session) AddCookie(c []byte) {
	if len(c) == 0 || len(c) > MaxCookieLen {
		return
	}
	if len(s.cookies) == MaxCookies {
		s.cookies = s.cookies[1:]
	}
	s.cookies = append(s.cookies, bytes.Clone(c))
}

// RequestLen returns the length of a request with the next cookie and the
// given number of placeholders, and 0 when no cookie is left.
func (s *Session) RequestLen(placeholders int) int {
	if len(s.cookies) == 0 {
		return 0
	}
	c := efLen(len(s.cookies[0]))
	return headerLen + efLen(len(uidPad)) + c*(1+placeholders) + efHeaderLen + 4 + NonceLen + aessiv.TagSize
}

var uidPad [MinUniqueIDLen]byte

// Placeholders returns how many cookie placeholders the next request should
// carry so that the replies refill the jar to MaxCookies.
func (s *Session) Placeholders() int { return max(MaxCookies-len(s.cookies), 0) }

// Request writes an NTS request into dst: dst[:48] must already hold the
// NTP header; after it come the Unique Identifier uid (MinUniqueIDLen bytes
// or more, random, fresh for each request), the next unused cookie, the
// placeholders, and the Authenticator sealed with the C2S key and nonce
// (NonceLen random bytes). The cookie is used up. It returns the request's
// length: ErrBuffer when dst is too small, ErrCookie when no cookie is left.
func (s *Session) Request(dst, uid, nonce []byte, placeholders int) (int, error) {
	if len(s.cookies) == 0 {
		return 0, ErrCookie
	}
	if len(uid) < MinUniqueIDLen || len(nonce) != NonceLen || placeholders < 0 || placeholders >= MaxCookies {
		return 0, ErrFields
	}
	cookie := s.cookies[0]
	n := headerLen + efLen(len(uid)) + efLen(len(cookie))*(1+placeholders) + efHeaderLen + 4 + NonceLen + aessiv.TagSize
	if len(dst) < n || n > maxPacket {
		return 0, ErrBuffer
	}
	s.cookies = s.cookies[1:]
	off := headerLen
	off += putEF(dst[off:], EFUniqueID, uid)
	off += putEF(dst[off:], EFCookie, cookie)
	for range placeholders {
		// A placeholder's body is as long as the cookie's, zero.
		l := efLen(len(cookie))
		binary.BigEndian.PutUint16(dst[off:], EFCookiePlaceholder)
		binary.BigEndian.PutUint16(dst[off+2:], uint16(l))
		clear(dst[off+efHeaderLen : off+l])
		off += l
	}
	authOff := off
	binary.BigEndian.PutUint16(dst[off:], EFAuthenticator)
	binary.BigEndian.PutUint16(dst[off+2:], uint16(n-authOff))
	binary.BigEndian.PutUint16(dst[off+4:], NonceLen)
	binary.BigEndian.PutUint16(dst[off+6:], aessiv.TagSize)
	copy(dst[off+8:], nonce)
	if err := s.c2s.Seal(s.s, dst[off+8+NonceLen:n], nil, dst[:authOff], dst[off+8:off+8+NonceLen]); err != nil {
		return 0, err
	}
	return n, nil
}

// CheckReply verifies a server's reply to a request sent with uid: the same
// Unique Identifier, and an Authenticator last that verifies under the S2C
// key; the cookies encrypted inside are kept for later requests. A
// kiss-o'-death NTSN echoing uid without an Authenticator returns ErrNAK.
// Anything else returns ErrFields or ErrAuth: a reply to ignore, forged or
// replayed.
func (s *Session) CheckReply(reply, uid []byte) error {
	if len(reply) <= headerLen || len(reply) > maxPacket {
		return ErrFields
	}
	uidOK, authOff := false, 0
	for off := headerLen; off < len(reply); {
		f, err := nextField(reply, off)
		if err != nil {
			return ErrFields
		}
		switch f.typ {
		case EFUniqueID:
			if uidOK {
				return ErrFields
			}
			body := reply[f.body : f.off+f.n]
			if len(body) < len(uid) || !bytes.Equal(body[:len(uid)], uid) {
				return ErrFields
			}
			uidOK = true
		case EFAuthenticator:
			if f.off+f.n != len(reply) {
				return ErrFields
			}
			authOff = f.off
		}
		off += f.n
	}
	if !uidOK {
		return ErrFields
	}
	if authOff == 0 {
		// Stratum 0 and reference ID NTSN: a NAK.
		if reply[1] == 0 && binary.BigEndian.Uint32(reply[12:]) == 0x4e54534e {
			return ErrNAK
		}
		return ErrAuth
	}
	nonce, ct, err := authenticator(reply[authOff+efHeaderLen:])
	if err != nil {
		return ErrFields
	}
	pl := len(ct) - aessiv.TagSize
	if pl > len(s.plain) {
		return ErrFields
	}
	if err := s.s2c.Open(s.s, s.plain[:pl], ct, reply[:authOff], nonce); err != nil {
		return ErrAuth
	}
	for off := 0; off < pl; {
		f, err := nextField(s.plain[:pl], off)
		if err != nil {
			return ErrFields
		}
		if f.typ == EFCookie {
			// The body is padded to 4; our cookies are already, others'
			// lengths are not known, so keep the body as sent.
			s.AddCookie(s.plain[f.body : f.off+f.n])
		}
		off += f.n
	}
	return nil
}
