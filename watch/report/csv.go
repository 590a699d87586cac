package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"

	"github.com/leapsmear/leapsmear/internal/textfmt"
	"github.com/leapsmear/leapsmear/watch"
)

// csvHeader names the columns of the CSV.
var csvHeader = []string{"round", "round_at", "server", "address", "answered", "at", "offset_ns", "delay_ns",
	"relative_ns", "li", "stratum", "error"}

// WriteCSV writes one row per round and server: the round's number and
// start, the server, whether it answered, the sample's instant, offset and
// delay, its offset relative to the first server at the round's common
// instant (empty when not compared: see watch.Align), the leap indicator and
// stratum it sent, and the error of the exchange if any.
func WriteCSV(w io.Writer, rec *watch.Record, sopt watch.SpreadOptions) error {
	al := watch.Align(rec, sopt)
	c, err := NewCSV(w)
	if err != nil {
		return err
	}
	for k := range rec.Rounds {
		if err := c.write(rec, k, &al); err != nil {
			return err
		}
	}
	return c.flush(nil)
}

// CSV writes the rows of WriteCSV round by round, as a watch makes them, so
// that a watch that ends abruptly leaves every round it saw on disk. The
// relative_ns column stays empty: the common instant of a round and the
// delay margin of a server depend on the rounds after it (watch.Align), so
// it is only known once the watch is over and WriteCSV writes it.
type CSV struct {
	w *csv.Writer
}

// NewCSV writes the header line to w and returns a writer of rounds.
func NewCSV(w io.Writer) (*CSV, error) {
	c := &CSV{w: csv.NewWriter(w)}
	if err := c.flush(csvHeader); err != nil {
		return nil, err
	}
	return c, nil
}

// WriteRound writes the rows of round k of rec (one per server) and flushes
// them to the underlying writer.
func (c *CSV) WriteRound(rec *watch.Record, k int) error {
	if err := c.write(rec, k, nil); err != nil {
		return err
	}
	return c.flush(nil)
}

// write writes round k, with the relative offsets of al if it is not nil,
// without flushing.
func (c *CSV) write(rec *watch.Record, k int, al *watch.Alignment) error {
	rd := rec.Rounds[k]
	for i, s := range rd.Samples {
		row := []string{strconv.Itoa(k), textfmt.Time(rd.At), rec.Servers[i], addr(rec, i), "0", "", "", "", "", "", "", ""}
		if s.Answered {
			row[4], row[5] = "1", textfmt.Time(s.At)
			row[6], row[7] = strconv.FormatInt(int64(s.Offset), 10), strconv.FormatInt(int64(s.Delay), 10)
			row[9], row[10] = strconv.Itoa(int(s.Leap)), strconv.Itoa(int(s.Stratum))
		}
		if al != nil {
			if rel, ok := al.Relative(k, i); ok {
				row[8] = strconv.FormatInt(int64(rel), 10)
			}
		}
		if s.Err != nil {
			row[11] = s.Err.Error()
		}
		if err := c.w.Write(row); err != nil {
			return fmt.Errorf("csv: %w", err)
		}
	}
	return nil
}

// flush writes row, if any, and flushes.
func (c *CSV) flush(row []string) error {
	if row != nil {
		if err := c.w.Write(row); err != nil {
			return fmt.Errorf("csv: %w", err)
		}
	}
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		return fmt.Errorf("csv: %w", err)
	}
	return nil
}

func addr(rec *watch.Record, i int) string {
	if i < len(rec.Addrs) {
		return rec.Addrs[i]
	}
	return ""
}
