package ntp_test

import (
	"fmt"
	"time"

	"github.com/leapsmear/leapsmear/ntp"
)

func ExampleHeader_Decode() {
	// A server's reply as it arrives from the network.
	reply := []byte{
		0x24, 0x01, 0x03, 0xe8, // LI 0, version 4, mode 4; stratum 1; poll 3; precision -24
		0x00, 0x00, 0x00, 0x00, // root delay
		0x00, 0x00, 0x00, 0x10, // root dispersion
		'G', 'P', 'S', 0, // reference ID
		0xec, 0x77, 0xa3, 0x7f, 0, 0, 0, 0, // reference timestamp
		0xec, 0x77, 0xa3, 0x80, 0, 0, 0, 0, // origin
		0xec, 0x77, 0xa3, 0x80, 0x80, 0, 0, 0, // receive
		0xec, 0x77, 0xa3, 0x80, 0x80, 0x01, 0, 0, // transmit
	}
	var h ntp.Header
	if err := h.Decode(reply); err != nil {
		fmt.Println(err)
		return
	}
	pivot := time.Date(2025, 8, 1, 0, 0, 0, 0, time.UTC) // e.g. the local clock
	fmt.Println("version", h.Version, "mode", h.Mode, "stratum", h.Stratum)
	fmt.Println("leap:", ntp.LeapName(h.Leap), "refid:", ntp.FormatRefID(h.ReferenceID, h.Stratum))
	fmt.Println("precision:", ntp.PrecisionDuration(h.Precision))
	fmt.Println("transmit:", h.Transmit.Time(pivot).Format(time.RFC3339Nano))
	fmt.Println("server held it for", h.Transmit.Sub(h.Receive))
	// Output:
	// version 4 mode 4 stratum 1
	// leap: Normal refid: GPS
	// precision: 60ns
	// transmit: 2025-09-19T09:40:16.500015259Z
	// server held it for 15.259µs
}

func ExampleTimestampFromTime() {
	for _, t := range []time.Time{
		time.Date(2016, 12, 31, 23, 59, 59, 500_000_000, time.UTC),
		time.Date(2036, 2, 7, 6, 28, 16, 0, time.UTC), // era 1 begins: the seconds roll over
	} {
		ts := ntp.TimestampFromTime(t)
		fmt.Printf("%s -> %08x.%08x -> %s\n", t.Format(time.RFC3339Nano), ts.Seconds(), ts.Fraction(),
			ts.Time(t.Add(-24*time.Hour)).Format(time.RFC3339Nano))
	}
	// Output:
	// 2016-12-31T23:59:59.5Z -> dc12c4ff.80000000 -> 2016-12-31T23:59:59.5Z
	// 2036-02-07T06:28:16Z -> 00000000.00000000 -> 2036-02-07T06:28:16Z
}

func ExampleTrailer() {
	pkt := make([]byte, ntp.HeaderLen+4) // a header and a crypto-NAK
	pkt[0] = 0x24
	extensions, mac, err := ntp.Trailer(pkt)
	fmt.Println(extensions, mac, err)
	// Output: 0 4 <nil>
}

func ExampleKissCode() {
	var h ntp.Header
	h.Mode, h.Stratum, h.ReferenceID = ntp.ModeServer, 0, ntp.KissRATE
	if h.IsKiss() {
		fmt.Println("kiss-o'-death:", ntp.KissCode(h.ReferenceID))
	}
	// Output: kiss-o'-death: RATE
}

func ExampleHeaderV5_Encode() {
	// An NTPv5 request for TAI (draft-ietf-ntp-ntpv5-09): the header and the
	// Draft Identification field, which a server requires.
	req := make([]byte, ntp.HeaderLen+ntp.ExtensionV5Len(len(ntp.V5Draft)))
	h := ntp.HeaderV5{Mode: ntp.ModeClient, Timescale: ntp.TimescaleTAI, ClientCookie: 0x0123456789abcdef}
	if err := h.Encode(req); err != nil {
		fmt.Println(err)
		return
	}
	ntp.PutExtensionV5(req[ntp.HeaderLen:], ntp.ExtV5DraftID, []byte(ntp.V5Draft))
	fmt.Printf("%d bytes, version %d, timescale %s\n", len(req), req[0]>>3&7, h.Timescale)

	// Reading the fields back, as a server does.
	for rest := req[ntp.HeaderLen:]; ; {
		f, r, ok, err := ntp.NextExtensionV5(rest)
		if err != nil || !ok {
			break
		}
		fmt.Printf("field %#04x: %s\n", f.Type, f.Value)
		rest = r
	}
	// Output:
	// 76 bytes, version 5, timescale tai
	// field 0xf5ff: draft-ietf-ntp-ntpv5-09
}

func ExampleRefIDFromSmear() {
	// A server a quarter into a noon-to-noon smear of an inserted second
	// serves time 0.25 s behind true UTC, and says so in its reference ID.
	refid := ntp.RefIDFromSmear(-250 * time.Millisecond)
	fmt.Println(ntp.FormatRefID(refid, 2))
	offset, ok := ntp.SmearFromRefID(refid)
	fmt.Println(offset, ok)
	// Output:
	// 254.240.0.0
	// -250ms true
}

func ExampleParseSmearInfo() {
	// The value of a leapsmear server's ExtSmearInfo field.
	v := []byte("policy=noon-to-noon window=linear:-12h:24h leap=2016-12-31T23:59:60Z delta=1 " +
		"opens=2016-12-31T12:00:00Z closes=2017-01-01T12:00:00Z\x00\x00")
	i, err := ntp.ParseSmearInfo(v)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(i.Policy, i.Smears(), i.Leap, i.Opens, i.Closes)
	// Output:
	// noon-to-noon true 2016-12-31T23:59:60Z 2016-12-31T12:00:00Z 2017-01-01T12:00:00Z
}
