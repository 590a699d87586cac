package ntp

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
)

// ExtSmearInfo is the type of leapsmear's own NTPv4 extension field (RFC
// 7822) in which a server declares how it handles leap seconds. A private,
// experimental code point (as chrony's 0xF323 is): other servers ignore the
// field as an unknown one and answer without it.
//
// A client asks by sending the field with a value of zeros, as long as the
// answer it can take (a reply is never longer than its request); a leapsmear
// server answers with the field of the same length holding SmearInfo as
// text, cut to fit and padded with zeros.
const ExtSmearInfo uint16 = 0xF35A

// SmearInfoRequestLen is the length of the field a client sends to ask
// (type, length and a 188-byte value: room for every policy and window).
const SmearInfoRequestLen = 192

// SmearInfo is what a leapsmear server declares about the time it serves.
type SmearInfo struct {
	// Policy names the smear policy ("noon-to-noon", "step", or a custom
	// SHAPE:START:LENGTH); Window is its window for an inserted second as
	// SHAPE:START:LENGTH ("step" for the step policy, which does not smear).
	Policy, Window string
	// Leap is the next leap second the server will apply (or the one in
	// progress), as a UTC label such as 2016-12-31T23:59:60Z, with Delta +1
	// or -1; empty when its leap table has none. Opens and Closes are the
	// labels of its window.
	Leap          string
	Delta         int
	Opens, Closes string
	// Synthetic says Leap is a rehearsal leap, not one of the table.
	Synthetic bool
}

// Smears reports whether the declared policy smears (any policy but step).
func (i SmearInfo) Smears() bool { return i.Window != "" && i.Window != "step" }

// AppendText appends the declaration as the field's value carries it:
// space-separated key=value pairs (policy, window, and leap, delta, opens,
// closes, synthetic when there is a next leap).
func (i SmearInfo) AppendText(b []byte) []byte {
	b = append(b, "policy="...)
	b = append(b, i.Policy...)
	b = append(b, " window="...)
	b = append(b, i.Window...)
	if i.Leap != "" {
		b = append(b, " leap="...)
		b = append(b, i.Leap...)
		b = append(b, " delta="...)
		b = strconv.AppendInt(b, int64(i.Delta), 10)
		b = append(b, " opens="...)
		b = append(b, i.Opens...)
		b = append(b, " closes="...)
		b = append(b, i.Closes...)
		if i.Synthetic {
			b = append(b, " synthetic=1"...)
		}
	}
	return b
}

// ErrSmearInfo reports an ExtSmearInfo value that is not the declaration
// AppendText writes.
var ErrSmearInfo = errors.New("ntp: malformed leapsmear smear declaration")

// ParseSmearInfo reads the value of an ExtSmearInfo field as AppendText
// writes it (trailing zero bytes ignored; unknown keys too, for later
// additions). A value cut short by a small request reads as far as it is
// whole; policy and window are required.
func ParseSmearInfo(value []byte) (SmearInfo, error) {
	value = bytes.TrimRight(value, "\x00")
	var i SmearInfo
	for _, kv := range strings.Fields(string(value)) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || v == "" {
			return SmearInfo{}, ErrSmearInfo
		}
		for j := 0; j < len(v); j++ {
			if v[j] <= ' ' || v[j] > '~' {
				return SmearInfo{}, ErrSmearInfo
			}
		}
		switch k {
		case "policy":
			i.Policy = v
		case "window":
			i.Window = v
		case "leap":
			i.Leap = v
		case "delta":
			d, err := strconv.Atoi(v)
			if err != nil || (d != 1 && d != -1) {
				return SmearInfo{}, ErrSmearInfo
			}
			i.Delta = d
		case "opens":
			i.Opens = v
		case "closes":
			i.Closes = v
		case "synthetic":
			i.Synthetic = v == "1"
		}
	}
	if i.Policy == "" || i.Window == "" || i.Leap != "" && (i.Delta == 0 || i.Opens == "" || i.Closes == "") {
		return SmearInfo{}, ErrSmearInfo
	}
	return i, nil
}
