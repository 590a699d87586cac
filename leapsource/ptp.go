package leapsource

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	ptp "github.com/facebook/time/ptp/protocol"

	"github.com/leapsmear/leapsmear/leapcheck"
)

// PTP is ptp4l (linuxptp) on this host as a source: the time properties
// data set of its current grandmaster, read through ptp4l's Unix management
// socket with facebook/time's PTP management client. leap61 (leap59)
// announces an inserted (deleted) second at the end of the current UTC day,
// as IEEE 1588 defines them. It counts with the kernel and chronyd as the
// host's own knowledge (leapcheck.HostGroup): phc2sys arms the kernel from
// these flags.
type PTP struct {
	socket string
}

// DefaultPTPSocket is where ptp4l listens for management messages.
const DefaultPTPSocket = ptp.PTP4lSock

// NewPTP returns the source for the ptp4l whose management socket is at
// socket (ptp4l's uds_address).
func NewPTP(socket string) *PTP { return &PTP{socket: socket} }

// Name is "ptp " and the socket's path.
func (p *PTP) Name() string { return "ptp " + p.socket }

// TimeProperties is the time properties data set of IEEE 1588 (section
// 8.2.4): the UTC offset and the leap flags of the grandmaster.
type TimeProperties struct {
	// CurrentUTCOffset is TAI-UTC in seconds, meaningful when
	// CurrentUTCOffsetValid.
	CurrentUTCOffset      int16
	CurrentUTCOffsetValid bool
	// Leap61 announces a minute of 61 seconds at the end of the current
	// UTC day, Leap59 one of 59 seconds.
	Leap61, Leap59 bool
	// PTPTimescale, TimeTraceable and FrequencyTraceable are the other
	// flags; TimeSource is the grandmaster's time source (0x20 GNSS, 0xA0
	// internal oscillator, ...).
	PTPTimescale, TimeTraceable, FrequencyTraceable bool
	TimeSource                                      uint8
}

// timePropertiesTLV is the TIME_PROPERTIES_DATA_SET management TLV (IEEE
// 1588-2019 table 94), which facebook/time's protocol package names but
// does not decode.
type timePropertiesTLV struct {
	ptp.ManagementTLVHead
	CurrentUTCOffset int16
	Flags            uint8
	TimeSource       uint8
}

// MgmtID returns the TLV's management ID.
func (t *timePropertiesTLV) MgmtID() ptp.ManagementID { return t.ManagementID }

func init() {
	ptp.RegisterMgmtTLVDecoder(ptp.IDTimePropertiesDataSet, func(data []byte) (ptp.ManagementTLV, error) {
		tlv := &timePropertiesTLV{}
		if err := binary.Read(bytes.NewReader(data), binary.BigEndian, tlv); err != nil {
			return nil, fmt.Errorf("TIME_PROPERTIES_DATA_SET: %w", err)
		}
		return tlv, nil
	})
}

func timePropertiesRequest() *ptp.Management {
	size := uint16(binary.Size(timePropertiesTLV{}))
	return &ptp.Management{
		ManagementMsgHead: ptp.ManagementMsgHead{
			Header: ptp.Header{
				SdoIDAndMsgType:    ptp.NewSdoIDAndMsgType(ptp.MessageManagement, 0),
				Version:            ptp.Version,
				MessageLength:      uint16(binary.Size(ptp.ManagementMsgHead{})) + size,
				LogMessageInterval: ptp.MgmtLogMessageInterval,
			},
			TargetPortIdentity: ptp.DefaultTargetPortIdentity,
			ActionField:        ptp.GET,
		},
		TLV: &timePropertiesTLV{ManagementTLVHead: ptp.ManagementTLVHead{
			TLVHead:      ptp.TLVHead{TLVType: ptp.TLVManagement, LengthField: size - uint16(binary.Size(ptp.TLVHead{}))},
			ManagementID: ptp.IDTimePropertiesDataSet,
		}},
	}
}

// Read asks ptp4l for the time properties data set and reads its leap flags
// as a leap second at the end of the UTC day of at, and its UTC offset when
// the grandmaster marks it valid.
func (p *PTP) Read(ctx context.Context, at time.Time) leapcheck.Observation {
	o := leapcheck.Observation{Name: p.Name(), Kind: leapcheck.KindPTP, Group: leapcheck.HostGroup}
	tp, err := p.TimeProperties(ctx)
	switch {
	case err != nil:
		o.Err = err
	case tp.Leap61 && tp.Leap59:
		o.Err = fmt.Errorf("ptp4l at %s: leap61 and leap59 both set", p.socket)
	case tp.Leap61:
		a := leapcheck.EndOfDay(at, 1)
		o.Announces = &a
	case tp.Leap59:
		a := leapcheck.EndOfDay(at, -1)
		o.Announces = &a
	}
	if err == nil && tp.CurrentUTCOffsetValid {
		// The grandmaster's offset is about its now, the host's.
		off := int(tp.CurrentUTCOffset)
		o.TAIMinusUTC, o.OffsetAt = &off, time.Now()
	}
	return o
}

// TimeProperties asks ptp4l for its time properties data set through the
// management socket. ptp4l answers to the address the request came from, so
// the client binds a socket of its own, as pmc does (beside ptp4l's when
// that folder is writable, else in the temporary folder); it is removed
// afterwards.
func (p *PTP) TimeProperties(ctx context.Context) (TimeProperties, error) {
	if _, err := os.Stat(p.socket); err != nil {
		return TimeProperties{}, fmt.Errorf("ptp4l management socket: %w", err)
	}
	remote := &net.UnixAddr{Name: p.socket, Net: "unixgram"}
	name := fmt.Sprintf("leapsmear.%d.%d.ptp", os.Getpid(), clientSeq.Add(1))
	var (
		conn  *net.UnixConn
		local string
		err   error
	)
	for _, dir := range []string{filepath.Dir(p.socket), os.TempDir()} {
		local = filepath.Join(dir, name)
		if conn, err = net.ListenUnixgram("unixgram", &net.UnixAddr{Name: local, Net: "unixgram"}); err == nil {
			break
		}
	}
	if err != nil {
		return TimeProperties{}, fmt.Errorf("ptp4l management socket %s: client socket: %w", p.socket, err)
	}
	defer os.Remove(local)
	defer conn.Close()
	start := time.Now()
	deadline := start.Add(DefaultTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return TimeProperties{}, err
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	cl := &ptp.MgmtClient{Connection: dgram{conn: conn, to: remote}}
	resp, err := cl.Communicate(timePropertiesRequest())
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return TimeProperties{}, fmt.Errorf("ptp4l at %s: no answer within %s: %w", p.socket, deadline.Sub(start).Round(time.Millisecond), err)
		}
		return TimeProperties{}, fmt.Errorf("ptp4l at %s: %w", p.socket, err)
	}
	tlv, ok := resp.TLV.(*timePropertiesTLV)
	if !ok {
		return TimeProperties{}, fmt.Errorf("ptp4l at %s: answered with %T", p.socket, resp.TLV)
	}
	f := tlv.Flags
	return TimeProperties{
		CurrentUTCOffset: tlv.CurrentUTCOffset, Leap61: f&0x01 != 0, Leap59: f&0x02 != 0, CurrentUTCOffsetValid: f&0x04 != 0,
		PTPTimescale: f&0x08 != 0, TimeTraceable: f&0x10 != 0, FrequencyTraceable: f&0x20 != 0, TimeSource: tlv.TimeSource,
	}, nil
}
