package daemon_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/leapsmear/leapsmear/daemon"
	"github.com/leapsmear/leapsmear/server"
	"github.com/leapsmear/leapsmear/smear"
	"github.com/leapsmear/leapsmear/timescale"
)

// A daemon's status half-way through a 61 s smear of the 2016 leap, on a
// hand-moved clock: the served time is midnight while true UTC repeats
// 23:59:59.5.
func ExampleDaemon_Status() {
	policy, _ := smear.Parse("linear:-30s:61s")
	clock := timescale.NewManualClock(time.Date(2016, 12, 31, 23, 59, 0, 0, time.UTC))
	d, err := daemon.Start(context.Background(), daemon.Config{
		Server:        server.Config{Listen: []string{"127.0.0.1:0"}, SocketsPerAddress: 1},
		Policy:        policy,
		Source:        timescale.Config{Clock: clock, CheckInterval: -1, AssumeSynced: true},
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		CheckInterval: -1,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()
	clock.Advance(60500 * time.Millisecond)
	st := d.Status()
	fmt.Println("UTC:   ", st.Label)
	fmt.Println("served:", st.Served.Time().Format(time.RFC3339Nano))
	fmt.Printf("offset: %+d ns, rate %.3f ppm\n", st.Offset.Nanoseconds(), st.RatePPM)
	fmt.Println("next:  ", st.Next.Event, "in window:", st.InWindow)
	// Output:
	// UTC:    2016-12-31T23:59:60.5Z
	// served: 2017-01-01T00:00:00Z
	// offset: +500000000 ns, rate -16393.443 ppm
	// next:   2016-12-31 23:59:60 +1 (TAI-UTC 37) in window: true
}
