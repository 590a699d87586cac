package nts

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func rec(critical bool, typ uint16, body ...byte) []byte {
	return AppendRecord(nil, critical, typ, body)
}

func msg(recs ...[]byte) []byte { return bytes.Join(recs, nil) }

var end = rec(true, RecordEnd)

func TestKERequestRoundTrip(t *testing.T) {
	q := KERequest{Protocols: []uint16{ProtocolNTPv4}, AEADs: []uint16{30, AEADAESSIVCMAC256}}
	b := q.Append(nil)
	want := []byte{0x80, 1, 0, 2, 0, 0, 0x80, 4, 0, 4, 0, 30, 0, 15, 0x80, 0, 0, 0}
	if !bytes.Equal(b, want) {
		t.Fatalf("encoded %x, want %x", b, want)
	}
	got, err := ParseKERequest(b)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := Negotiate(got)
	if !ok || r.Protocol != ProtocolNTPv4 || r.AEAD != AEADAESSIVCMAC256 {
		t.Fatalf("Negotiate = %+v %v", r, ok)
	}
}

func TestKERequestStrict(t *testing.T) {
	proto := rec(true, RecordNextProtocol, 0, 0)
	aead := rec(true, RecordAEAD, 0, 15)
	for _, c := range []struct {
		name string
		msg  []byte
		code uint16
	}{
		{"no next protocol", msg(aead, end), ErrorBadRequest},
		{"two next protocol", msg(proto, proto, aead, end), ErrorBadRequest},
		{"two aead", msg(proto, aead, aead, end), ErrorBadRequest},
		{"odd protocol list", msg(rec(true, RecordNextProtocol, 0, 0, 1), aead, end), ErrorBadRequest},
		{"unknown critical", msg(proto, aead, rec(true, 0x1234, 1, 2), end), ErrorUnrecognizedCritical},
		{"cookie from a client", msg(proto, aead, rec(false, RecordNewCookie, 1, 2, 3, 4), end), ErrorBadRequest},
		{"error from a client", msg(proto, aead, rec(true, RecordError, 0, 1), end), ErrorBadRequest},
		{"end with a body", msg(proto, aead, rec(true, RecordEnd, 1)), ErrorBadRequest},
		{"bytes after end", msg(proto, aead, end, []byte{0}), ErrorBadRequest},
		{"no end", msg(proto, aead), ErrorBadRequest},
	} {
		_, err := ParseKERequest(c.msg)
		var ke *KEError
		if !errors.As(err, &ke) || ke.Code != c.code {
			t.Errorf("%s: %v, want code %d", c.name, err, c.code)
		}
	}
	// Unknown non-critical records and the client's server preference are ignored.
	q, err := ParseKERequest(msg(rec(false, 0x4321, 9), proto, rec(true, RecordServer, 'x'), aead, end))
	if err != nil || len(q.Protocols) != 1 {
		t.Errorf("ParseKERequest with ignorable records = %+v, %v", q, err)
	}
}

func TestNegotiate(t *testing.T) {
	if r, ok := Negotiate(KERequest{Protocols: []uint16{7}}); ok || r.HasProtocol || r.Error != nil {
		t.Errorf("unknown protocol: %+v %v", r, ok)
	}
	if r, ok := Negotiate(KERequest{Protocols: []uint16{0}}); ok || r.Error == nil || *r.Error != ErrorBadRequest {
		t.Errorf("no AEAD: %+v %v", r, ok)
	}
	r, ok := Negotiate(KERequest{Protocols: []uint16{0}, AEADs: []uint16{30}})
	if ok || !r.HasProtocol || r.HasAEAD {
		t.Errorf("unknown AEAD: %+v %v", r, ok)
	}
	// The empty AEAD record says so to the client.
	if _, err := ParseKEResponse(r.Append(nil)); err != nil {
		t.Errorf("the refusal does not parse: %v", err)
	}
}

func TestKEResponseRoundTrip(t *testing.T) {
	cookies := [][]byte{bytes.Repeat([]byte{1}, CookieLen), bytes.Repeat([]byte{2}, CookieLen)}
	r := KEResponse{Protocol: 0, HasProtocol: true, AEAD: 15, HasAEAD: true, Cookies: cookies, Server: "127.0.0.1", Port: 11123}
	got, err := ParseKEResponse(r.Append(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got.Server != "127.0.0.1" || got.Port != 11123 || len(got.Cookies) != 2 || !bytes.Equal(got.Cookies[1], cookies[1]) || !got.HasAEAD {
		t.Fatalf("parsed %+v", got)
	}
	code := ErrorInternal
	_, err = ParseKEResponse((&KEResponse{Error: &code}).Append(nil))
	var ke *KEError
	if !errors.As(err, &ke) || ke.Code != ErrorInternal {
		t.Fatalf("error response parsed as %v", err)
	}
}

func TestKEResponseStrict(t *testing.T) {
	proto := rec(true, RecordNextProtocol, 0, 0)
	aead := rec(true, RecordAEAD, 0, 15)
	for name, m := range map[string][]byte{
		"two protocols named":  msg(rec(true, RecordNextProtocol, 0, 0, 0, 1), aead, end),
		"no aead":              msg(proto, end),
		"empty cookie":         msg(proto, aead, rec(false, RecordNewCookie), end),
		"oversized cookie":     msg(proto, aead, AppendRecord(nil, false, RecordNewCookie, make([]byte, MaxCookieLen+1)), end),
		"port zero":            msg(proto, aead, rec(true, RecordPort, 0, 0), end),
		"server with a space":  msg(proto, aead, rec(true, RecordServer, 'a', ' ', 'b'), end),
		"two servers":          msg(proto, aead, rec(true, RecordServer, 'a'), rec(true, RecordServer, 'b'), end),
		"unknown critical":     msg(proto, aead, rec(true, 99), end),
		"short error":          msg(rec(true, RecordError, 1), end),
		"truncated":            msg(proto, aead)[:5],
		"trailing after end":   msg(proto, aead, end, end),
		"warning of odd bytes": msg(proto, aead, rec(true, RecordWarning, 1), end),
	} {
		if _, err := ParseKEResponse(m); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// More than MaxCookies cookies: the first eight are kept.
	var cs [][]byte
	for i := range 10 {
		cs = append(cs, rec(false, RecordNewCookie, byte(i), 1, 2, 3))
	}
	r, err := ParseKEResponse(msg(proto, aead, bytes.Join(cs, nil), end))
	if err != nil || len(r.Cookies) != MaxCookies || r.Cookies[7][0] != 7 {
		t.Errorf("ten cookies: %d kept, %v", len(r.Cookies), err)
	}
}

func TestMessageLenLimits(t *testing.T) {
	m := msg(rec(true, RecordNextProtocol, 0, 0), end)
	for i := range len(m) {
		if _, err := MessageLen(m[:i]); !errors.Is(err, ErrIncomplete) {
			t.Fatalf("MessageLen of %d of %d bytes = %v", i, len(m), err)
		}
	}
	if n, err := MessageLen(append(m, 9, 9)); n != len(m) || err != nil {
		t.Fatalf("MessageLen = %d, %v", n, err)
	}
	// A record whose announced body takes the message past the limit is
	// refused before its body arrives.
	big := binary.BigEndian.AppendUint16([]byte{0, 9}, 0xffff)
	if _, err := MessageLen(big); !errors.Is(err, ErrTooLong) {
		t.Errorf("oversized record: %v", err)
	}
	var many []byte
	for range MaxRecords {
		many = append(many, rec(false, 0x99)...)
	}
	if _, err := MessageLen(many); !errors.Is(err, ErrTooLong) {
		t.Errorf("%d records: %v", MaxRecords, err)
	}
	var fill []byte
	for len(fill) < MaxMessageLen {
		fill = AppendRecord(fill, false, 0x99, make([]byte, 1000))
	}
	if _, err := MessageLen(fill); !errors.Is(err, ErrTooLong) {
		t.Errorf("%d bytes: %v", len(fill), err)
	}
}

func TestExporterContext(t *testing.T) {
	if c := ExporterContext(15, false); !bytes.Equal(c, []byte{0, 0, 0, 15, 0}) {
		t.Errorf("C2S context %x", c)
	}
	if c := ExporterContext(15, true); !bytes.Equal(c, []byte{0, 0, 0, 15, 1}) {
		t.Errorf("S2C context %x", c)
	}
}

// FuzzKERecords: the NTS-KE parsers never panic, agree with MessageLen, and a
// request that parses re-encodes to one that parses the same.
func FuzzKERecords(f *testing.F) {
	f.Add(KERequest{Protocols: []uint16{0}, AEADs: []uint16{15}}.Append(nil))
	f.Add((&KEResponse{HasProtocol: true, HasAEAD: true, AEAD: 15, Cookies: [][]byte{make([]byte, CookieLen)}, Server: "h", Port: 1}).Append(nil))
	f.Add(msg(rec(true, 0x1234), end))
	f.Add([]byte{0x80, 0, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := MessageLen(b)
		if err == nil && (n > len(b) || n > MaxMessageLen || n < recordHeaderLen) {
			t.Fatalf("MessageLen = %d of %d bytes", n, len(b))
		}
		q, qerr := ParseKERequest(b)
		_, rerr := ParseKEResponse(b)
		if err != nil || n != len(b) {
			if qerr == nil || rerr == nil {
				t.Fatalf("parsed an incomplete message: %v %v", qerr, rerr)
			}
			return
		}
		if qerr == nil {
			q2, err := ParseKERequest(q.Append(nil))
			if err != nil || len(q2.Protocols) != len(q.Protocols) || len(q2.AEADs) != len(q.AEADs) {
				t.Fatalf("re-encoded request: %+v %v, was %+v", q2, err, q)
			}
			r, _ := Negotiate(q)
			if _, err := ParseKEResponse(r.Append(nil)); err != nil && r.Error == nil {
				t.Fatalf("our answer to %+v does not parse: %v", q, err)
			}
		}
	})
}
