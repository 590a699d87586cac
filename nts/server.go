package nts

import (
	"encoding/binary"
	"io"
	"sync/atomic"

	"github.com/leapsmear/leapsmear/internal/aessiv"
)

// headerLen is the NTP header that precedes the extension fields.
const headerLen = 48

// assocCacheSize is how many client associations one Scratch keeps the AES
// key schedules of. A request of an association not in the cache allocates
// its two ciphers once; every later request of it allocates nothing.
const assocCacheSize = 256

// maxCookieFields is room for the cookie fields a reply carries.
const maxCookieFields = MaxCookies * (efHeaderLen + CookieLen)

// Server verifies NTS-protected requests and seals their replies. It is safe
// for concurrent use, each goroutine with its own Scratch; the ring can be
// replaced at any time (rotation, a reloaded key file).
type Server struct {
	ring atomic.Pointer[Ring]
	rand io.Reader
}

// NewServer returns a server sealing cookies with ring; rand supplies the
// nonces (crypto/rand.Reader in production).
func NewServer(ring *Ring, rand io.Reader) *Server {
	s := &Server{rand: rand}
	s.ring.Store(ring)
	return s
}

// SetRing replaces the key ring.
func (s *Server) SetRing(r *Ring) { s.ring.Store(r) }

// Ring returns the key ring in use.
func (s *Server) Ring() *Ring { return s.ring.Load() }

// assoc is one client association's ciphers, keyed by its keys.
type assoc struct {
	c2sKey, s2cKey [KeyLen]byte
	c2s, s2c       *aessiv.Cipher
}

// Scratch is one goroutine's working memory for Verify and Reply, allocated
// once (NewScratch) and reused for every packet.
type Scratch struct {
	siv   aessiv.Scratch
	plain [cookiePlainLen]byte
	keys  Keys
	eef   [maxPacket]byte
	rnd   [NonceLen + cookieNonceLen]byte
	cache [assocCacheSize]assoc
	// NewAssociations counts cache misses: requests whose ciphers had to be
	// built (and allocated).
	NewAssociations uint64
}

// NewScratch allocates a Scratch.
func NewScratch() *Scratch { return new(Scratch) }

// Request is the state of one verified request between Verify and Reply:
// where its Unique Identifier is, the S2C cipher, and the cookie fields of the
// reply, sealed ahead so that Reply, which runs after the transmit timestamp
// is written, has little left to do. Keep one per request in flight (one per
// batch slot); it is reused without allocation.
type Request struct {
	uidOff, uidLen int // the whole Unique Identifier field in the request
	reqLen         int
	s2c            *aessiv.Cipher
	nonce          [NonceLen]byte
	plainLen       int
	cookies        int
	plain          [maxCookieFields]byte
}

// Cookies returns how many fresh cookies the reply will carry.
func (q *Request) Cookies() int { return q.cookies }

// HasUID reports whether the request carried a Unique Identifier, so that a
// NAK can be sent.
func (q *Request) HasUID() bool { return q.uidLen > 0 }

// Verify checks an NTS-protected client request: one Unique Identifier of 32
// bytes or more, one cookie, cookie placeholders of the cookie's length, and
// the Authenticator last, which must verify under the C2S key inside the
// cookie. On success q holds what Reply needs, fresh cookies included. It
// returns ErrNotNTS for a packet without NTS fields (serve it as plain NTP),
// ErrFields for broken ones (drop it), and ErrCookie or ErrAuth when the
// request cannot be authenticated (answer with a NAK: see NAK). It never
// allocates, except once per association new to sc.
func (s *Server) Verify(sc *Scratch, req []byte, q *Request) error {
	q.uidLen, q.cookies, q.plainLen, q.s2c = 0, 0, 0, nil
	if len(req) <= headerLen {
		return ErrNotNTS
	}
	if len(req) > maxPacket {
		return ErrFields
	}
	cookieOff, cookieLen, placeholders, authOff := 0, -1, 0, 0
	sawNTS := false
	for off := headerLen; off < len(req); {
		f, err := nextField(req, off)
		if err != nil {
			return ErrFields
		}
		bodyLen := f.n - efHeaderLen
		switch f.typ {
		case EFUniqueID:
			if q.uidLen != 0 || bodyLen < MinUniqueIDLen {
				return ErrFields
			}
			q.uidOff, q.uidLen = f.off, f.n
			sawNTS = true
		case EFCookie:
			if cookieOff != 0 || (cookieLen >= 0 && cookieLen != bodyLen) {
				return ErrFields
			}
			cookieOff, cookieLen = f.body, bodyLen
			sawNTS = true
		case EFCookiePlaceholder:
			if cookieLen >= 0 && cookieLen != bodyLen {
				return ErrFields
			}
			cookieLen = bodyLen
			placeholders++
			sawNTS = true
		case EFAuthenticator:
			if f.off+f.n != len(req) {
				return ErrFields // the Authenticator must be last
			}
			authOff = f.off
			sawNTS = true
		}
		off += f.n
	}
	if !sawNTS {
		return ErrNotNTS
	}
	if q.uidLen == 0 || cookieOff == 0 || authOff == 0 {
		return ErrFields
	}
	ring := s.ring.Load()
	// The cookie body is padded to 4 bytes; ours are CookieLen exactly.
	if err := openCookie(&sc.siv, &sc.plain, ring, req[cookieOff:cookieOff+cookieLen], &sc.keys); err != nil {
		return ErrCookie
	}
	a := sc.association(&sc.keys)
	if a == nil {
		return ErrCookie
	}
	nonce, ct, err := authenticator(req[authOff+efHeaderLen:])
	if err != nil {
		return ErrFields
	}
	pl := len(ct) - aessiv.TagSize
	if pl > len(sc.eef) {
		return ErrFields
	}
	if err := a.c2s.Open(&sc.siv, sc.eef[:pl], ct, req[:authOff], nonce); err != nil {
		return ErrAuth
	}
	// Encrypted extension fields: count placeholders, ignore the rest.
	for off := 0; off < pl; {
		f, err := nextField(sc.eef[:pl], off)
		if err != nil {
			return ErrFields
		}
		if f.typ == EFCookiePlaceholder {
			if f.n-efHeaderLen != cookieLen {
				return ErrFields
			}
			placeholders++
		}
		off += f.n
	}
	// As many cookies as asked for (one per cookie and placeholder), at
	// most MaxCookies, and no more than fit a reply as long as the request.
	n := min(1+placeholders, MaxCookies)
	room := len(req) - headerLen - q.uidLen - efHeaderLen - 4 - NonceLen - aessiv.TagSize
	n = max(min(n, room/efLen(CookieLen)), 0)
	// One read of rand: the reply's nonce, and a base for the cookies'
	// nonces, made distinct per cookie.
	if _, err := io.ReadFull(s.rand, sc.rnd[:]); err != nil {
		return ErrAuth
	}
	q.nonce = [NonceLen]byte(sc.rnd[:NonceLen])
	base := [cookieNonceLen]byte(sc.rnd[NonceLen:])
	for i := range n {
		out := q.plain[i*efLen(CookieLen):]
		binary.BigEndian.PutUint16(out, EFCookie)
		binary.BigEndian.PutUint16(out[2:], uint16(efLen(CookieLen)))
		base[cookieNonceLen-1] ^= byte(i)
		sealCookie(&sc.siv, &sc.plain, out[efHeaderLen:efHeaderLen+CookieLen], ring.seal, base[:], &sc.keys)
		base[cookieNonceLen-1] ^= byte(i)
		clear(out[efHeaderLen+CookieLen : efLen(CookieLen)])
	}
	clear(sc.keys.C2S[:])
	clear(sc.keys.S2C[:])
	q.cookies, q.plainLen = n, n*efLen(CookieLen)
	q.s2c, q.reqLen = a.s2c, len(req)
	return nil
}

// association returns the ciphers of keys from the cache, building them on a
// miss.
func (sc *Scratch) association(k *Keys) *assoc {
	a := &sc.cache[binary.LittleEndian.Uint32(k.C2S[:])%assocCacheSize]
	if a.c2s != nil && a.c2sKey == k.C2S && a.s2cKey == k.S2C {
		return a
	}
	c2s, err1 := aessiv.New(k.C2S[:])
	s2c, err2 := aessiv.New(k.S2C[:])
	if err1 != nil || err2 != nil {
		return nil
	}
	sc.NewAssociations++
	*a = assoc{c2sKey: k.C2S, s2cKey: k.S2C, c2s: c2s, s2c: s2c}
	return a
}

// Reply completes the reply to a request that Verify accepted. resp holds the
// reply's 48-byte header, complete with its transmit timestamp, and room for
// len(req) bytes; Reply writes the Unique Identifier and the Authenticator
// with the fresh cookies encrypted inside, padded so that the reply is exactly
// as long as the request, and returns that length. It allocates nothing.
func (s *Server) Reply(sc *Scratch, req, resp []byte, q *Request) (int, error) {
	if q.s2c == nil || len(req) != q.reqLen || len(resp) < q.reqLen {
		return 0, ErrBuffer
	}
	off := headerLen + copy(resp[headerLen:], req[q.uidOff:q.uidOff+q.uidLen])
	authOff := off
	ctLen := aessiv.TagSize + q.plainLen
	authLen := q.reqLen - authOff
	if authLen < efHeaderLen+4+NonceLen+padded(ctLen) {
		return 0, ErrBuffer
	}
	b := resp[authOff:q.reqLen]
	binary.BigEndian.PutUint16(b, EFAuthenticator)
	binary.BigEndian.PutUint16(b[2:], uint16(authLen))
	binary.BigEndian.PutUint16(b[4:], NonceLen)
	binary.BigEndian.PutUint16(b[6:], uint16(ctLen))
	copy(b[8:], q.nonce[:])
	ct := b[8+NonceLen : 8+NonceLen+ctLen]
	if err := q.s2c.Seal(&sc.siv, ct, q.plain[:q.plainLen], resp[:authOff], b[8:8+NonceLen]); err != nil {
		return 0, err
	}
	clear(b[8+NonceLen+ctLen:])
	return q.reqLen, nil
}

// NAK writes the extension fields of an NTS negative acknowledgement to a
// request that Verify refused with ErrCookie or ErrAuth: the request's Unique
// Identifier, after the 48-byte header the caller wrote into resp (a
// kiss-o'-death with reference ID NTSN). It returns the reply's length, or 0
// when the request had no Unique Identifier (then drop it).
func (s *Server) NAK(req, resp []byte, q *Request) int {
	if q.uidLen == 0 || len(resp) < headerLen+q.uidLen || q.uidOff+q.uidLen > len(req) {
		return 0
	}
	return headerLen + copy(resp[headerLen:], req[q.uidOff:q.uidOff+q.uidLen])
}
