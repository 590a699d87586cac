package nts_test

import (
	"crypto/rand"
	"fmt"

	"github.com/leapsmear/leapsmear/nts"
)

// A server verifies an NTS request and seals its reply; the client checks
// the reply and keeps the fresh cookie. NTS-KE (TLS) would have given the
// client its keys and first cookies; here they are made directly.
func Example() {
	keyFile, _ := nts.NewKeyFile(rand.Reader) // or nts.ParseKeyFile(the fleet's file)
	ring, _ := keyFile.Ring(1_798_761_600)    // the keys of the period holding "now"
	server := nts.NewServer(ring, rand.Reader)

	var keys nts.Keys // exported from the TLS session of NTS-KE
	keys.AEAD = nts.AEADAESSIVCMAC256
	_, _ = rand.Read(keys.C2S[:])
	_, _ = rand.Read(keys.S2C[:])
	cookies, _ := ring.MakeCookies(&keys, 1, func(b []byte) error { _, err := rand.Read(b); return err })
	client, _ := nts.NewSession(keys, cookies)

	// The client's request: an NTP header, then the NTS fields.
	req := make([]byte, 1024)
	req[0] = 0x23 // NTPv4, client mode
	uid, nonce := make([]byte, nts.MinUniqueIDLen), make([]byte, nts.NonceLen)
	_, _ = rand.Read(uid)
	_, _ = rand.Read(nonce)
	n, _ := client.Request(req, uid, nonce, 0)
	req = req[:n]

	// The server: verify, write the reply's header (transmit timestamp
	// included), then seal.
	scratch := nts.NewScratch() // one per goroutine
	var q nts.Request           // one per request in flight
	if err := server.Verify(scratch, req, &q); err != nil {
		fmt.Println("refused:", err)
		return
	}
	resp := make([]byte, len(req))
	resp[0], resp[1] = 0x24, 1 // NTPv4, server mode, stratum 1, ...
	m, _ := server.Reply(scratch, req, resp, &q)

	fmt.Println("request", len(req), "bytes, reply", m, "bytes")
	fmt.Println("client accepts:", client.CheckReply(resp[:m], uid) == nil, "cookies:", client.Cookies())
	// Output:
	// request 232 bytes, reply 232 bytes
	// client accepts: true cookies: 1
}

func ExampleParseKeyFile() {
	kf, err := nts.ParseKeyFile([]byte(`
rotate 24h
accept 7
secret 1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	ring, _ := kf.Ring(1_798_761_600)
	fmt.Printf("period %d, sealing key %#08x, %d keys open cookies, next rotation at %d\n",
		ring.Period(), ring.SealKeyID(), ring.Len(), ring.Expires())
	// Output: period 20819, sealing key 0x01005153, 9 keys open cookies, next rotation at 1798848000
}
