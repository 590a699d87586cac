package leapsource

import (
	"context"
	"fmt"
	"time"

	"github.com/leapsmear/leapsmear/client"
	"github.com/leapsmear/leapsmear/leapcheck"
	"github.com/leapsmear/leapsmear/ntp"
)

// NTP is an upstream NTP server as a source: its leap indicator, read with
// one exchange of package client per Read. LI 1 (2) announces an inserted
// (deleted) second at the end of the current month; a server whose LI is 3
// or whose stratum is 16, or that sends a Kiss-o'-Death, cannot be read.
type NTP struct {
	addr string
	opt  client.Options
}

// NewNTP returns the source for the server at addr (host:port, or a host for
// port 123), queried with opt.
func NewNTP(addr string, opt client.Options) *NTP { return &NTP{addr: addr, opt: opt} }

// Name is "ntp " and the address as given.
func (n *NTP) Name() string { return "ntp " + n.addr }

// Read queries the server once and reads its leap indicator as a leap second
// at the end of the UTC month of at.
func (n *NTP) Read(ctx context.Context, at time.Time) leapcheck.Observation {
	o := leapcheck.Observation{Name: n.Name(), Kind: leapcheck.KindNTP}
	resp, err := client.Query(ctx, n.addr, n.opt)
	if err != nil {
		o.Err = err
		return o
	}
	switch resp.Header.Leap {
	case ntp.LeapNone:
	case ntp.LeapInsert:
		a := leapcheck.EndOfMonth(at, 1)
		o.Announces = &a
	case ntp.LeapDelete:
		a := leapcheck.EndOfMonth(at, -1)
		o.Announces = &a
	default:
		o.Err = fmt.Errorf("%s: leap indicator %d", n.addr, resp.Header.Leap)
	}
	return o
}
