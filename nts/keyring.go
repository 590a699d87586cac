package nts

import (
	"bufio"
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/leapsmear/leapsmear/internal/aessiv"
)

// Defaults and bounds of a key file.
const (
	// DefaultRotation is how often the cookie key changes.
	DefaultRotation = 24 * time.Hour
	// DefaultAccept is how many previous rotation periods' keys still open
	// cookies: a cookie lives at least DefaultAccept periods.
	DefaultAccept = 7
	// SecretLen is the length of a secret of the key file.
	SecretLen   = 32
	minRotation = time.Minute
	maxRotation = 366 * 24 * time.Hour
	maxAccept   = 64
	maxSecrets  = 16
	maxKeyFile  = 64 << 10
)

// Secret is one master secret of a key file. Cookie keys are derived from it
// per rotation period.
type Secret struct {
	ID  uint8
	Key [SecretLen]byte
}

// KeyFile is the fleet's shared cookie key material: secrets with IDs, the
// one in use, and the rotation schedule. Every server given the same key file
// derives the same keys at the same time, without talking to the others.
//
// The text format, one directive a line, # starts a comment:
//
//	rotate 24h        # how often the cookie key changes (1m to 366 days; default 24h)
//	accept 7          # previous periods whose cookies still open (0 to 64; default 7)
//	secret 1 <64 hex digits>
//	secret 2 <64 hex digits>
//	active 2          # the secret that seals new cookies (default: the last listed)
//
// Every secret listed opens cookies; only the active one seals them. To replace
// a secret across a fleet, add the new one everywhere first, then make it
// active everywhere, then remove the old one.
type KeyFile struct {
	Rotation time.Duration
	Accept   int
	Secrets  []Secret
	Active   uint8
}

// ParseKeyFile reads a key file strictly: unknown directives, repeated
// directives or secret IDs, secrets that are not 32 bytes of hex, and values
// out of range are errors naming the line.
func ParseKeyFile(b []byte) (*KeyFile, error) {
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("nts key file: %d bytes, more than %d", len(b), maxKeyFile)
	}
	kf := &KeyFile{Rotation: DefaultRotation, Accept: DefaultAccept}
	seen := map[string]bool{}
	activeSet := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 1; sc.Scan(); line++ {
		text, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(text)
		if len(f) == 0 {
			continue
		}
		bad := func(format string, args ...any) error {
			return fmt.Errorf("nts key file line %d: "+format, append([]any{line}, args...)...)
		}
		if f[0] != "secret" && seen[f[0]] {
			return nil, bad("%s given twice", f[0])
		}
		seen[f[0]] = true
		switch f[0] {
		case "rotate":
			if len(f) != 2 {
				return nil, bad("want: rotate DURATION")
			}
			d, err := time.ParseDuration(f[1])
			if err != nil || d < minRotation || d > maxRotation || d%time.Second != 0 {
				return nil, bad("rotate %q: want whole seconds from %s to %s", f[1], minRotation, maxRotation)
			}
			kf.Rotation = d
		case "accept":
			n, err := strconv.Atoi(safeField(f, 1))
			if len(f) != 2 || err != nil || n < 0 || n > maxAccept {
				return nil, bad("want: accept N, N from 0 to %d", maxAccept)
			}
			kf.Accept = n
		case "secret":
			if len(f) != 3 {
				return nil, bad("want: secret ID HEX")
			}
			id, err := strconv.ParseUint(f[1], 10, 8)
			if err != nil {
				return nil, bad("secret ID %q: want 0 to 255", f[1])
			}
			key, err := hex.DecodeString(f[2])
			if err != nil || len(key) != SecretLen {
				return nil, bad("secret %d: want %d hexadecimal digits", id, 2*SecretLen)
			}
			for _, s := range kf.Secrets {
				if s.ID == uint8(id) {
					return nil, bad("secret %d given twice", id)
				}
			}
			if len(kf.Secrets) == maxSecrets {
				return nil, bad("more than %d secrets", maxSecrets)
			}
			kf.Secrets = append(kf.Secrets, Secret{ID: uint8(id), Key: [SecretLen]byte(key)})
		case "active":
			id, err := strconv.ParseUint(safeField(f, 1), 10, 8)
			if len(f) != 2 || err != nil {
				return nil, bad("want: active ID")
			}
			kf.Active, activeSet = uint8(id), true
		default:
			return nil, bad("unknown directive %q (want rotate, accept, secret or active)", f[0])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("nts key file: %w", err)
	}
	if len(kf.Secrets) == 0 {
		return nil, errors.New("nts key file: no secret")
	}
	if !activeSet {
		kf.Active = kf.Secrets[len(kf.Secrets)-1].ID
	} else if _, ok := kf.secret(kf.Active); !ok {
		return nil, fmt.Errorf("nts key file: active secret %d is not listed", kf.Active)
	}
	return kf, nil
}

func safeField(f []string, i int) string {
	if i < len(f) {
		return f[i]
	}
	return ""
}

func (kf *KeyFile) secret(id uint8) (Secret, bool) {
	for _, s := range kf.Secrets {
		if s.ID == id {
			return s, true
		}
	}
	return Secret{}, false
}

// Format renders the key file in the text format ParseKeyFile reads.
func (kf *KeyFile) Format() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# leapsmear NTS cookie keys: give every server of a fleet the same file; keep it secret.\n")
	fmt.Fprintf(&b, "rotate %s\naccept %d\n", kf.Rotation, kf.Accept)
	for _, s := range kf.Secrets {
		fmt.Fprintf(&b, "secret %d %x\n", s.ID, s.Key)
	}
	fmt.Fprintf(&b, "active %d\n", kf.Active)
	return b.Bytes()
}

// NewKeyFile returns a key file with one fresh secret (ID 1) read from rand,
// and the default schedule. A server without a key file uses one of these
// for its lifetime: its cookies then die with the process.
func NewKeyFile(rand io.Reader) (*KeyFile, error) {
	var s Secret
	s.ID = 1
	if _, err := io.ReadFull(rand, s.Key[:]); err != nil {
		return nil, fmt.Errorf("nts: random secret: %w", err)
	}
	return &KeyFile{Rotation: DefaultRotation, Accept: DefaultAccept, Secrets: []Secret{s}, Active: 1}, nil
}

// cookieKey is one derived cookie key.
type cookieKey struct {
	id     uint32
	cipher *aessiv.Cipher
}

// Ring is the set of cookie keys valid in one rotation period: the key that
// seals new cookies, and every key that still opens them (the previous
// Accept periods and the next one, for a fleet member whose clock is a little
// ahead, for every secret of the file). It is immutable; build the next one
// with KeyFile.Ring when Expires has passed.
type Ring struct {
	seal    cookieKey
	open    []cookieKey
	period  int64
	expires int64
}

// KeyID returns the 32-bit ID of the cookie key of a secret in a rotation
// period: the secret's ID in the top byte, the period number modulo 2^24
// below it.
func KeyID(secret uint8, period int64) uint32 {
	return uint32(secret)<<24 | uint32(period)&0xffffff
}

// derive returns the cookie key of secret s in period p: HKDF-SHA256 of the
// secret with the key ID as info.
func derive(s Secret, p int64) ([]byte, error) {
	var info [13]byte
	copy(info[:], "ls1:")
	info[4] = s.ID
	binary.BigEndian.PutUint64(info[5:], uint64(p))
	return hkdf.Key(sha256.New, s.Key[:], []byte("leapsmear nts cookie key"), string(info[:]), aessiv.KeySize)
}

// Ring returns the keys of the rotation period holding the POSIX instant
// now (seconds). Period p covers [p*Rotation, (p+1)*Rotation).
func (kf *KeyFile) Ring(now int64) (*Ring, error) {
	rot := int64(kf.Rotation / time.Second)
	if rot <= 0 {
		return nil, errors.New("nts: rotation period under a second")
	}
	p := now / rot
	if now < 0 && now%rot != 0 {
		p--
	}
	r := &Ring{period: p, expires: (p + 1) * rot}
	for _, s := range kf.Secrets {
		for q := p - int64(kf.Accept); q <= p+1; q++ {
			key, err := derive(s, q)
			if err != nil {
				return nil, fmt.Errorf("nts: derive cookie key: %w", err)
			}
			c, err := aessiv.New(key)
			if err != nil {
				return nil, fmt.Errorf("nts: cookie key: %w", err)
			}
			k := cookieKey{id: KeyID(s.ID, q), cipher: c}
			if s.ID == kf.Active && q == p {
				r.seal = k
			}
			r.open = append(r.open, k)
		}
	}
	if r.seal.cipher == nil {
		return nil, fmt.Errorf("nts: active secret %d is not listed", kf.Active)
	}
	return r, nil
}

// Expires returns the POSIX second at which the ring's period ends and the
// next ring must take over.
func (r *Ring) Expires() int64 { return r.expires }

// Period returns the ring's rotation period number.
func (r *Ring) Period() int64 { return r.period }

// Len returns the number of keys that open cookies.
func (r *Ring) Len() int { return len(r.open) }

// SealKeyID returns the ID of the key that seals new cookies.
func (r *Ring) SealKeyID() uint32 { return r.seal.id }

func (r *Ring) lookup(id uint32) *aessiv.Cipher {
	for i := range r.open {
		if r.open[i].id == id {
			return r.open[i].cipher
		}
	}
	return nil
}
