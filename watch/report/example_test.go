package report_test

import (
	"fmt"
	"os"
	"time"

	"github.com/leapsmear/leapsmear/watch"
	"github.com/leapsmear/leapsmear/watch/report"
)

// exampleRecord is two servers watched every second for two minutes around
// a rehearsed leap at 15:00: one smears the inserted second linearly over a
// minute centred on it, the other steps at 15:00.
func exampleRecord() *watch.Record {
	leapAt := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	rec := &watch.Record{Servers: []string{"10.0.0.1", "10.0.0.2"}, Addrs: []string{"10.0.0.1:123", "10.0.0.2:123"}, Every: time.Second}
	for at := leapAt.Add(-time.Minute); !at.After(leapAt.Add(time.Minute)); at = at.Add(time.Second) {
		smeared := -min(max(at.Sub(leapAt.Add(-30*time.Second)), 0), time.Minute) / 60
		stepped := time.Duration(0)
		if !at.Before(leapAt) {
			stepped = -time.Second
		}
		rec.Rounds = append(rec.Rounds, watch.Round{At: at, Samples: []watch.Sample{
			{At: at, Offset: smeared, Delay: 40 * time.Microsecond, Stratum: 2, Answered: true},
			{At: at, Offset: stepped, Delay: 40 * time.Microsecond, Stratum: 2, Answered: true},
		}})
	}
	return rec
}

// The summary as 'leapsmear watch' prints it.
func ExampleWriteText() {
	rec := exampleRecord()
	sum := watch.Summarize(rec, watch.Options{Leap: time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)}, watch.SpreadOptions{})
	if err := report.WriteText(os.Stdout, sum); err != nil {
		fmt.Println(err)
	}
	// Output:
	// watched 2026-11-23T14:59:00.000000000Z to 2026-11-23T15:01:00.000000000Z: 121 rounds every 1s
	//
	// SERVER    CLASS  SHAPE   POLICY            WINDOW (UTC)                           TOTAL OFFSET    MAX RATE     MAX UTC OFFSET  ANSWERED
	// 10.0.0.1  smear  linear  linear:-30s:1m0s  14:59:30.000 to 15:00:30.000 (1m0s)    +1.000000000 s  16666.7 ppm  +0.500000000 s  121/121
	// 10.0.0.2  step   step    step              between 14:59:59.000 and 15:00:00.000  +1.000000000 s  (a jump)     +0.000000000 s  121/121
	//
	// fleet spread: 0.500000000 s at 15:00:00.000 between 10.0.0.1 and 10.0.0.2
	//   (the largest difference between two servers at the same instant, over 121 rounds)
}

// The rows of the first round, as 'leapsmear watch --csv' writes them while
// it watches (relative_ns is written once the watch is over, by WriteCSV).
func ExampleCSV() {
	rec := exampleRecord()
	c, err := report.NewCSV(os.Stdout)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := c.WriteRound(rec, 0); err != nil {
		fmt.Println(err)
	}
	// Output:
	// round,round_at,server,address,answered,at,offset_ns,delay_ns,relative_ns,li,stratum,error
	// 0,2026-11-23T14:59:00.000000000Z,10.0.0.1,10.0.0.1:123,1,2026-11-23T14:59:00.000000000Z,0,40000,,0,2,
	// 0,2026-11-23T14:59:00.000000000Z,10.0.0.2,10.0.0.2:123,1,2026-11-23T14:59:00.000000000Z,0,40000,,0,2,
}

// The chart of 'leapsmear watch --svg': each server's offset from its first
// answer, then each server's offset from the first server.
func ExampleChart() {
	rec := exampleRecord()
	c := report.Chart(rec, watch.Summarize(rec, watch.Options{}, watch.SpreadOptions{}), watch.SpreadOptions{})
	for _, p := range c.Panels {
		fmt.Printf("%s [%s]: %q, %q\n", p.Title, p.YLabel, p.Series[0].Name, p.Series[1].Name)
	}
	// To write it: c.Write(file, plot.SVG)

	// Output:
	// Offset of each server from the watcher's clock, from its first answer [change since the first answer (ms)]: "10.0.0.1: smear linear", "10.0.0.2: step"
	// Offset of each server from 10.0.0.1 at the same instant [difference (ms)]: "10.0.0.1: smear linear", "10.0.0.2: step"
}
