// Package aessiv is AES-SIV-CMAC-256 (RFC 5297 with a 256-bit key: AES-128
// for both CMAC and CTR), the AEAD that NTS requires (RFC 8915, IANA AEAD
// algorithm 15), built on crypto/aes.
//
// It exists because the one well-kept Go implementation of this algorithm,
// facebook/time's ntp/protocol/nts/aessiv, allocates its working buffers on
// every Seal and Open (80 bytes, measured), and NTS must add no allocation per
// packet to the server. Here the working buffers are a Scratch owned by the
// caller, one per goroutine, so sealing and opening allocate nothing. The tests
// pin RFC 5297's vectors and compare every output with facebook/time's
// implementation (a test-only dependency) on random and fuzzed inputs.
//
// The S2V components are fixed to what NTS uses: associated data, then an
// optional nonce (RFC 5297 section 3: the nonce is the last component before
// the plaintext).
package aessiv

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"errors"
)

// Sizes in bytes.
const (
	// KeySize is the key: the first half keys CMAC (S2V), the second CTR.
	KeySize = 32
	// TagSize is the synthetic IV that precedes every ciphertext.
	TagSize = aes.BlockSize
)

const bs = aes.BlockSize

var (
	// ErrKeySize reports a key that is not KeySize bytes.
	ErrKeySize = errors.New("aessiv: key is not 32 bytes")
	// ErrOpen reports a ciphertext that is too short or does not
	// authenticate under the key, associated data and nonce.
	ErrOpen = errors.New("aessiv: message authentication failed")
	// ErrBuffer reports an output buffer of the wrong length.
	ErrBuffer = errors.New("aessiv: output buffer has the wrong length")
)

// Cipher is one AES-SIV-CMAC-256 key, safe for concurrent use (each goroutine
// with its own Scratch).
type Cipher struct {
	mac, ctr cipher.Block
	k1, k2   [bs]byte // CMAC subkeys (RFC 4493 section 2.3)
	d0       [bs]byte // CMAC(zero block), the start of S2V
}

// Scratch holds the working blocks of one Seal or Open. Allocate one per
// goroutine (its fields are handed to the AES block cipher, so a Scratch on
// the stack would escape to the heap on every call) and reuse it.
type Scratch struct {
	v, tag, mac, last, ctr, ks [bs]byte
}

// New returns the cipher for a KeySize-byte key.
func New(key []byte) (*Cipher, error) {
	if len(key) != KeySize {
		return nil, ErrKeySize
	}
	c := &Cipher{}
	var err error
	if c.mac, err = aes.NewCipher(key[:KeySize/2]); err != nil {
		return nil, err
	}
	if c.ctr, err = aes.NewCipher(key[KeySize/2:]); err != nil {
		return nil, err
	}
	c.mac.Encrypt(c.k1[:], c.d0[:]) // L = AES(K, 0^128); d0 is still zero
	dbl(&c.k1)
	c.k2 = c.k1
	dbl(&c.k2)
	// CMAC of the zero block, one complete block: AES(0 xor K1).
	c.mac.Encrypt(c.d0[:], c.k1[:])
	return c, nil
}

// Seal encrypts plaintext bound to ad and nonce (nil: no nonce component)
// into dst, which must be exactly TagSize+len(plaintext) bytes: the synthetic
// IV, then the ciphertext. dst may be plaintext's own buffer shifted by
// TagSize only if it does not overlap otherwise; the simplest is a separate
// buffer.
func (c *Cipher) Seal(s *Scratch, dst, plaintext, ad, nonce []byte) error {
	if len(dst) != TagSize+len(plaintext) {
		return ErrBuffer
	}
	c.s2v(s, &s.v, plaintext, ad, nonce)
	copy(dst[TagSize:], plaintext)
	copy(dst[:TagSize], s.v[:])
	c.xorCTR(s, dst[TagSize:])
	return nil
}

// Open authenticates and decrypts ciphertext (synthetic IV and ciphertext, as
// Seal wrote it) into dst, which must be exactly len(ciphertext)-TagSize bytes
// and must not overlap ciphertext. On failure it returns ErrOpen and dst is
// zeroed.
func (c *Cipher) Open(s *Scratch, dst, ciphertext, ad, nonce []byte) error {
	if len(ciphertext) < TagSize {
		return ErrOpen
	}
	if len(dst) != len(ciphertext)-TagSize {
		return ErrBuffer
	}
	copy(s.v[:], ciphertext[:TagSize])
	copy(dst, ciphertext[TagSize:])
	c.xorCTR(s, dst)
	c.s2v(s, &s.tag, dst, ad, nonce)
	if subtle.ConstantTimeCompare(s.v[:], s.tag[:]) != 1 {
		clear(dst)
		return ErrOpen
	}
	return nil
}

// s2v is RFC 5297 section 2.4 over the components ad, nonce (if not nil) and
// the message msg, written into out.
func (c *Cipher) s2v(s *Scratch, out *[bs]byte, msg, ad, nonce []byte) {
	d := c.d0
	dbl(&d)
	c.cmac(s, &s.mac, ad, nil)
	subtle.XORBytes(d[:], d[:], s.mac[:])
	if nonce != nil {
		dbl(&d)
		c.cmac(s, &s.mac, nonce, nil)
		subtle.XORBytes(d[:], d[:], s.mac[:])
	}
	if len(msg) >= bs {
		// CMAC(msg xorend D)
		c.cmac(s, out, msg, &d)
		return
	}
	// CMAC(dbl(D) xor pad(msg))
	dbl(&d)
	subtle.XORBytes(d[:len(msg)], d[:len(msg)], msg)
	d[len(msg)] ^= 0x80
	c.cmac(s, out, d[:], nil)
}

// cmac writes AES-CMAC (RFC 4493) of msg into out. With end set, the last 16
// bytes of msg (len(msg) >= 16) are XORed with end first ("xorend" of RFC
// 5297), without writing into msg.
func (c *Cipher) cmac(s *Scratch, out *[bs]byte, msg []byte, end *[bs]byte) {
	n := len(msg)
	full := n / bs // blocks before the last
	if n > 0 && n%bs == 0 {
		full--
	}
	endAt := n - bs // where end starts, when set
	x := &s.ctr
	clear(x[:])
	for i := 0; i < full; i++ {
		blk := msg[i*bs : (i+1)*bs]
		subtle.XORBytes(x[:], x[:], blk)
		if end != nil && (i+1)*bs > endAt {
			// The part of this block that overlaps the xorend tail.
			from := max(endAt-i*bs, 0)
			subtle.XORBytes(x[from:], x[from:], end[from-(endAt-i*bs):])
		}
		c.mac.Encrypt(x[:], x[:])
	}
	last := &s.last
	clear(last[:])
	tail := msg[full*bs:]
	copy(last[:], tail)
	if end != nil {
		// The tail holds the last len(tail) bytes of end.
		off := bs - len(tail)
		subtle.XORBytes(last[:len(tail)], last[:len(tail)], end[off:])
	}
	if len(tail) == bs {
		subtle.XORBytes(last[:], last[:], c.k1[:])
	} else {
		last[len(tail)] ^= 0x80
		subtle.XORBytes(last[:], last[:], c.k2[:])
	}
	subtle.XORBytes(x[:], x[:], last[:])
	c.mac.Encrypt(out[:], x[:])
}

// xorCTR encrypts or decrypts b in place with the CTR half of the key, the
// counter being s.v with bits 63 and 31 cleared (RFC 5297 section 2.5).
func (c *Cipher) xorCTR(s *Scratch, b []byte) {
	s.ctr = s.v
	s.ctr[8] &= 0x7f
	s.ctr[12] &= 0x7f
	for len(b) > 0 {
		c.ctr.Encrypt(s.ks[:], s.ctr[:])
		n := subtle.XORBytes(b, b, s.ks[:])
		b = b[n:]
		for i := bs - 1; i >= 0; i-- {
			s.ctr[i]++
			if s.ctr[i] != 0 {
				break
			}
		}
	}
}

// dbl multiplies a block by x in GF(2^128) (RFC 5297 section 2.3), in
// constant time.
func dbl(b *[bs]byte) {
	carry := b[0] >> 7
	for i := 0; i < bs-1; i++ {
		b[i] = b[i]<<1 | b[i+1]>>7
	}
	b[bs-1] = b[bs-1]<<1 ^ byte(subtle.ConstantTimeSelect(int(carry), 0x87, 0))
}
