package leapsource

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/facebook/time/ntp/chrony"

	"github.com/leapsmear/leapsmear/leapcheck"
)

// Chrony is chronyd on this host as a source: the leap status of its
// tracking report ("Leap status" in chronyc tracking), read through its Unix
// command socket with facebook/time's client of chrony's command protocol.
// Insert or Delete second announces a leap at the end of the current UTC
// day; Not synchronised makes the source unreadable. chronyd arms a leap
// only on the last day of June or December, whatever its sources announce
// on other days.
type Chrony struct {
	socket string
}

// DefaultChronySocket is where Debian's chronyd listens for commands.
const DefaultChronySocket = "/run/chrony/chronyd.sock"

// NewChrony returns the source for the chronyd whose command socket is at
// socket (chronyd's bindcmdaddress).
func NewChrony(socket string) *Chrony { return &Chrony{socket: socket} }

// Name is "chrony " and the socket's path.
func (c *Chrony) Name() string { return "chrony " + c.socket }

// Chrony's leap status values (chrony's NTP_Leap).
const (
	chronyLeapNormal = 0
	chronyLeapInsert = 1
	chronyLeapDelete = 2
	chronyLeapUnsync = 3
)

// Read asks chronyd for its tracking report and reads its leap status as a
// leap second at the end of the UTC day of at.
func (c *Chrony) Read(ctx context.Context, at time.Time) leapcheck.Observation {
	o := leapcheck.Observation{Name: c.Name(), Kind: leapcheck.KindChrony, Group: leapcheck.HostGroup}
	tr, err := c.Tracking(ctx)
	if err != nil {
		o.Err = err
		return o
	}
	switch tr.LeapStatus {
	case chronyLeapNormal:
	case chronyLeapInsert:
		a := leapcheck.EndOfDay(at, 1)
		o.Announces = &a
	case chronyLeapDelete:
		a := leapcheck.EndOfDay(at, -1)
		o.Announces = &a
	case chronyLeapUnsync:
		o.Err = fmt.Errorf("chronyd at %s is not synchronised (leap status: not synchronised)", c.socket)
	default:
		o.Err = fmt.Errorf("chronyd at %s: unknown leap status %d", c.socket, tr.LeapStatus)
	}
	return o
}

// clientSeq numbers the client sockets of this process.
var clientSeq atomic.Uint64

// dgram sends to and reads from chronyd through an unconnected datagram
// socket (the io.ReadWriter that chrony.Client talks through).
type dgram struct {
	conn *net.UnixConn
	to   *net.UnixAddr
}

func (d dgram) Write(b []byte) (int, error) { return d.conn.WriteToUnix(b, d.to) }
func (d dgram) Read(b []byte) (int, error) {
	for {
		n, from, err := d.conn.ReadFromUnix(b)
		if err != nil || from == nil || from.Name == d.to.Name {
			return n, err
		}
		// A datagram from someone else: not chronyd's answer.
	}
}

// Tracking asks chronyd for its tracking report through the command socket.
// chronyd answers to the address the request came from, so the client binds
// a socket of its own, as chronyc does: beside chronyd's socket when that
// folder is writable, else in the temporary folder; it is removed afterwards.
func (c *Chrony) Tracking(ctx context.Context) (*chrony.Tracking, error) {
	remote := &net.UnixAddr{Name: c.socket, Net: "unixgram"}
	if _, err := os.Stat(c.socket); err != nil {
		return nil, fmt.Errorf("chronyd command socket: %w", err)
	}
	name := fmt.Sprintf("leapsmear.%d.%d.sock", os.Getpid(), clientSeq.Add(1))
	var (
		conn  *net.UnixConn
		local string
		err   error
	)
	for _, dir := range []string{filepath.Dir(c.socket), os.TempDir()} {
		local = filepath.Join(dir, name)
		if conn, err = net.ListenUnixgram("unixgram", &net.UnixAddr{Name: local, Net: "unixgram"}); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("chronyd command socket %s: client socket: %w", c.socket, err)
	}
	defer os.Remove(local)
	defer conn.Close()
	// chronyd usually runs as its own user, and must be able to answer.
	if err := os.Chmod(local, 0o666); err != nil {
		return nil, fmt.Errorf("chronyd command socket %s: client socket: %w", c.socket, err)
	}
	start := time.Now()
	deadline := start.Add(DefaultTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	wait := deadline.Sub(start).Round(time.Millisecond)
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	cl := &chrony.Client{Connection: dgram{conn: conn, to: remote}, Sequence: uint32(clientSeq.Load())}
	resp, err := cl.Communicate(chrony.NewTrackingPacket())
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, fmt.Errorf("chronyd at %s: no answer within %s: %w", c.socket, wait, err)
		}
		return nil, fmt.Errorf("chronyd at %s: %w", c.socket, err)
	}
	tr, ok := resp.(*chrony.ReplyTracking)
	if !ok {
		return nil, fmt.Errorf("chronyd at %s: answered a tracking request with %T", c.socket, resp)
	}
	if tr.Sequence != cl.Sequence {
		return nil, fmt.Errorf("chronyd at %s: reply to request %d, not %d", c.socket, tr.Sequence, cl.Sequence)
	}
	return &tr.Tracking, nil
}
