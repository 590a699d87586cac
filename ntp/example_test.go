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
