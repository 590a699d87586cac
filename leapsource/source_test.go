package leapsource

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/client"
	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/internal/testenv"
	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/leapcheck"
	"github.com/leapsmear/leapsmear/ntp"
	"github.com/leapsmear/leapsmear/timescale"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func announced(o leapcheck.Observation) string {
	if o.Announces == nil {
		return ""
	}
	return o.Announces.String()
}

func TestKernel(t *testing.T) {
	at := utc("2027-06-30T08:00:00Z")
	for _, c := range []struct {
		name  string
		state timescale.KernelState
		err   error
		want  string
	}{
		{"nothing armed", timescale.KernelState{State: timescale.TimeOK}, nil, ""},
		{"STA_INS", timescale.KernelState{State: timescale.TimeOK, Status: timescale.StatusIns}, nil, "2027-06-30 +1"},
		{"TIME_INS", timescale.KernelState{State: timescale.TimeIns}, nil, "2027-06-30 +1"},
		{"STA_DEL", timescale.KernelState{State: timescale.TimeOK, Status: timescale.StatusDel}, nil, "2027-06-30 -1"},
		{"TIME_DEL", timescale.KernelState{State: timescale.TimeDel}, nil, "2027-06-30 -1"},
		{"unsynchronised but armed", timescale.KernelState{State: timescale.TimeError, Status: timescale.StatusUnsync | timescale.StatusIns}, nil, "2027-06-30 +1"},
		{"unreadable", timescale.KernelState{}, errors.New("adjtimex: operation not permitted"), ""},
	} {
		k := NewKernel(func() (timescale.KernelState, error) { return c.state, c.err })
		o := k.Read(context.Background(), at)
		if got := announced(o); got != c.want || o.Kind != leapcheck.KindKernel || o.Name != "kernel" || o.Group != leapcheck.HostGroup || !errors.Is(o.Err, c.err) {
			t.Errorf("%s: %+v, want %q", c.name, o, c.want)
		}
	}
	// The kernel's TAI offset is stated when a daemon has set it, about
	// the host's now (not the judged instant).
	o := NewKernel(func() (timescale.KernelState, error) {
		return timescale.KernelState{State: timescale.TimeOK, TAIOffset: 37}, nil
	}).Read(context.Background(), at)
	if o.TAIMinusUTC == nil || *o.TAIMinusUTC != 37 || time.Since(o.OffsetAt).Abs() > time.Minute {
		t.Errorf("TAI offset 37: %+v", o)
	}
	if o := NewKernel(func() (timescale.KernelState, error) { return timescale.KernelState{}, nil }).Read(context.Background(), at); o.TAIMinusUTC != nil {
		t.Errorf("TAI offset unset: %+v", o)
	}
	// The real kernel can be read (never written) on this machine.
	if o := NewKernel(nil).Read(context.Background(), time.Now()); o.Err != nil {
		t.Errorf("real kernel: %v", o.Err)
	}
}

func TestNTP(t *testing.T) {
	at := utc("2027-12-10T08:00:00Z")
	for _, c := range []struct {
		name    string
		edit    func(*ntp.Header)
		want    string
		wantErr string
	}{
		{"LI 0", func(*ntp.Header) {}, "", ""},
		{"LI 1: the end of the month", func(h *ntp.Header) { h.Leap = ntp.LeapInsert }, "2027-12-31 +1", ""},
		{"LI 2", func(h *ntp.Header) { h.Leap = ntp.LeapDelete }, "2027-12-31 -1", ""},
		{"LI 3", func(h *ntp.Header) { h.Leap = ntp.LeapUnsynchronised }, "", "not synchronised"},
		{"stratum 16 with LI 1", func(h *ntp.Header) { h.Leap, h.Stratum = ntp.LeapInsert, 16 }, "", "not synchronised"},
		{"kiss-o'-death", func(h *ntp.Header) { h.Stratum, h.ReferenceID = 0, ntp.KissRATE }, "", "RATE"},
	} {
		srv := ntptest.Start(t, "udp4", "127.0.0.1", func(req ntp.Header) ntp.Header {
			h := ntptest.Reply(req, 0)
			c.edit(&h)
			return h
		})
		o := NewNTP(srv.Addr, client.Options{}).Read(context.Background(), at)
		if got := announced(o); got != c.want || o.Kind != leapcheck.KindNTP || o.Name != "ntp "+srv.Addr || o.Group != "" {
			t.Errorf("%s: %+v, want %q", c.name, o, c.want)
		}
		if (c.wantErr == "") != (o.Err == nil) || (o.Err != nil && !strings.Contains(o.Err.Error(), c.wantErr)) {
			t.Errorf("%s: error %v, want %q", c.name, o.Err, c.wantErr)
		}
	}
	closed := ntptest.ClosedPort(t)
	o := NewNTP(closed, client.Options{Timeout: time.Second}).Read(context.Background(), at)
	if !errors.Is(o.Err, client.ErrNoAnswer) || o.Announces != nil {
		t.Errorf("unreachable: %+v", o)
	}
}

// TestReadAll: sources are read at once, each bounded by the timeout, and
// an unreachable one does not hold up the rest.
func TestReadAll(t *testing.T) {
	// A socket that reads nothing and answers nothing.
	silent, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	leapy := ntptest.Start(t, "udp4", "127.0.0.1", func(req ntp.Header) ntp.Header {
		h := ntptest.Reply(req, 0)
		h.Leap = ntp.LeapInsert
		return h
	})
	at := utc("2027-12-31T12:00:00Z")
	timeout := 300 * time.Millisecond
	start := time.Now()
	r := Check(context.Background(), leap.Default(), at, []Source{
		NewNTP(silent.LocalAddr().String(), client.Options{}),
		NewNTP(leapy.Addr, client.Options{}),
		NewKernel(func() (timescale.KernelState, error) { return timescale.KernelState{}, nil }),
	}, timeout, leapcheck.Options{})
	took := time.Since(start)
	if took < timeout || took > 10*timeout {
		t.Errorf("took %s with a timeout of %s", took, timeout)
	}
	if len(r.Sources) != 4 || r.Sources[1].Err == nil || announced(r.Sources[2]) != "2027-12-31 +1" || r.Verdict != leapcheck.UnknownLeap {
		t.Errorf("result %+v", r)
	}
}

func TestNextCheck(t *testing.T) {
	for _, c := range []struct {
		at   string
		want time.Duration
	}{
		{"2027-12-01T00:00:00Z", 15 * time.Minute},
		{"2027-12-30T23:50:00Z", 10 * time.Minute}, // not past the start of the last day
		{"2027-12-30T23:59:59Z", time.Second},
		{"2027-12-31T00:00:00Z", time.Minute},
		{"2027-12-31T23:59:59Z", time.Minute},
		{"2028-01-01T00:00:00Z", 15 * time.Minute},
		{"2028-02-28T23:55:00Z", 5 * time.Minute}, // 2028 is a leap year: the last day is the 29th
		{"2027-11-30T10:00:00Z", time.Minute},     // any month's last day
	} {
		if got := NextCheck(utc(c.at), DefaultInterval, DefaultLastDayInterval); got != c.want {
			t.Errorf("NextCheck(%s) = %s, want %s", c.at, got, c.want)
		}
	}
}

// TestChronyMissing: a socket that does not exist is a source error.
func TestChronyMissing(t *testing.T) {
	o := NewChrony(t.TempDir()+"/chronyd.sock").Read(context.Background(), time.Now())
	if o.Err == nil || !strings.Contains(o.Err.Error(), "chronyd command socket") || o.Kind != leapcheck.KindChrony || o.Group != leapcheck.HostGroup {
		t.Errorf("%+v", o)
	}
}

// TestChronyUnsynchronised: a real chronyd -x without sources answers, and
// says it is not synchronised: a source error.
func TestChronyUnsynchronised(t *testing.T) {
	socket := testenv.Chronyd{}.Start(t)
	o := NewChrony(socket).Read(context.Background(), time.Now())
	if o.Err == nil || !strings.Contains(o.Err.Error(), "not synchronised") || o.Announces != nil {
		t.Errorf("%+v", o)
	}
}

// TestChronyArmed: a real chronyd -x that believes it is 2027-12-31 (under
// libfaketime; the host clock is untouched) follows a server announcing
// LI=1, and its tracking report, read through the command socket, says
// "Insert second": a leap at the end of that day.
func TestChronyArmed(t *testing.T) {
	fake := utc("2027-12-31T12:00:00Z")
	shift := time.Until(fake)
	srv := ntptest.Start(t, "udp4", "127.0.0.1", func(req ntp.Header) ntp.Header {
		h := ntptest.Reply(req, shift)
		h.Leap = ntp.LeapInsert
		return h
	})
	socket := testenv.Chronyd{Upstream: srv.Addr, FakeTime: fake}.Start(t)
	src := NewChrony(socket)
	deadline := time.Now().Add(20 * time.Second)
	for {
		o := src.Read(context.Background(), fake)
		if o.Err == nil && announced(o) == "2027-12-31 +1" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("chronyd did not arm the leap within 20 s: %+v", o)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
