package nts

import (
	"encoding/binary"

	"github.com/leapsmear/leapsmear/internal/aessiv"
)

// Cookie layout: the key ID, the nonce, then AES-SIV of the plaintext (the
// AEAD algorithm, two zero bytes, the C2S key and the S2C key) with the key ID
// as associated data.
const (
	cookieNonceLen = 16
	cookiePlainLen = 2 + 2 + 2*KeyLen
	// CookieLen is the length of this server's cookies.
	CookieLen = 4 + cookieNonceLen + aessiv.TagSize + cookiePlainLen
)

// Keys are the keys of one NTS association, as NTS-KE exported them.
type Keys struct {
	AEAD     uint16
	C2S, S2C [KeyLen]byte
}

// sealCookie writes the cookie of keys into dst (CookieLen bytes) under key
// k with the given nonce.
func sealCookie(s *aessiv.Scratch, plain *[cookiePlainLen]byte, dst []byte, k cookieKey, nonce []byte, keys *Keys) {
	binary.BigEndian.PutUint16(plain[0:], keys.AEAD)
	plain[2], plain[3] = 0, 0
	copy(plain[4:], keys.C2S[:])
	copy(plain[4+KeyLen:], keys.S2C[:])
	binary.BigEndian.PutUint32(dst, k.id)
	copy(dst[4:4+cookieNonceLen], nonce)
	_ = k.cipher.Seal(s, dst[4+cookieNonceLen:CookieLen], plain[:], dst[:4], dst[4:4+cookieNonceLen])
	clear(plain[:])
}

// openCookie decrypts a cookie with the ring's keys into keys. It returns
// ErrCookie for anything but a cookie sealed by a key of the ring.
func openCookie(s *aessiv.Scratch, plain *[cookiePlainLen]byte, r *Ring, cookie []byte, keys *Keys) error {
	if len(cookie) != CookieLen {
		return ErrCookie
	}
	c := r.lookup(binary.BigEndian.Uint32(cookie))
	if c == nil {
		return ErrCookie
	}
	if err := c.Open(s, plain[:], cookie[4+cookieNonceLen:], cookie[:4], cookie[4:4+cookieNonceLen]); err != nil {
		return ErrCookie
	}
	keys.AEAD = binary.BigEndian.Uint16(plain[0:])
	copy(keys.C2S[:], plain[4:])
	copy(keys.S2C[:], plain[4+KeyLen:])
	ok := keys.AEAD == AEADAESSIVCMAC256 && plain[2] == 0 && plain[3] == 0
	clear(plain[:])
	if !ok {
		return ErrCookie
	}
	return nil
}

// MakeCookies seals n cookies of keys with the ring's sealing key, for the
// NTS-KE server. Nonces come from rand. It allocates; the NTP path uses
// Server.Reply.
func (r *Ring) MakeCookies(keys *Keys, n int, rand func([]byte) error) ([][]byte, error) {
	s := new(aessiv.Scratch)
	var plain [cookiePlainLen]byte
	out := make([][]byte, n)
	nonce := make([]byte, cookieNonceLen)
	for i := range out {
		if err := rand(nonce); err != nil {
			return nil, err
		}
		out[i] = make([]byte, CookieLen)
		sealCookie(s, &plain, out[i], r.seal, nonce, keys)
	}
	return out, nil
}
