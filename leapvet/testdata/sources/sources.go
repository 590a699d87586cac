// Package sources has one case for each source of a wall-clock duration.
package sources

import (
	"crypto/x509"
	"math/rand"
	"net/http"
	"net/mail"
	"os"
	"time"
)

func utc() {
	start := time.Now().UTC()
	d := time.Since(start)
	_ = rand.Int63n(int64(d)) // want `time.Since\(start\) is read on the wall clock, as start \(from .UTC\(\), line 14\) has no monotonic reading; rand.Int63n panics unless its argument is positive; keep the time.Now\(\) value`
}

func local() {
	start := time.Now().Local()
	_ = rand.Int63n(int64(time.Since(start))) // want `from .Local\(\)`
}

func in(loc *time.Location) {
	start := time.Now().In(loc)
	_ = rand.Int63n(int64(time.Since(start))) // want `from .In\(\)`
}

func round() {
	start := time.Now().Round(0)
	_ = rand.Int63n(int64(time.Since(start))) // want `from .Round\(\)`
}

func truncate() {
	start := time.Now().Truncate(time.Millisecond)
	_ = rand.Int63n(int64(time.Since(start))) // want `from .Truncate\(\)`
}

func addDate() {
	start := time.Now().AddDate(0, 0, -1)
	_ = rand.Int63n(int64(time.Since(start))) // want `from .AddDate\(\)`
}

func unix(sec int64) {
	t := time.Unix(sec, 0)
	_ = rand.Int63n(int64(time.Since(t))) // want `from time.Unix,`
}

func unixMilli(ms int64) {
	_ = rand.Int63n(int64(time.Since(time.UnixMilli(ms)))) // want `time.Since\(time.UnixMilli\(ms\)\) is read on the wall clock, as time.UnixMilli\(ms\) has no monotonic reading`
}

func unixMicro(us int64) {
	_ = rand.Int63n(int64(time.Until(time.UnixMicro(us)))) // want `time.Until\(time.UnixMicro\(us\)\) is read on the wall clock`
}

func date(y int) {
	newYear := time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
	_ = rand.Int63n(int64(time.Until(newYear))) // want `from time.Date,`
}

func parse(s string) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return
	}
	_ = rand.Int63n(int64(time.Since(t))) // want `from time.Parse,`
}

func parseInLocation(s string) {
	t, _ := time.ParseInLocation(time.DateTime, s, time.Local)
	_ = rand.Int63n(int64(time.Since(t))) // want `from time.ParseInLocation,`
}

// Add keeps what its receiver has, or has not.
func add() {
	t := time.Now().UTC().Add(time.Second)
	_ = rand.Int63n(int64(time.Since(t))) // want `from .UTC\(\)`
}

// Sub with the stripped time on either side.
func sub(sent time.Time) {
	now := time.Now()
	stamp := sent.UTC()
	_ = rand.Int63n(int64(now.Sub(stamp))) // want `now.Sub\(stamp\) is read on the wall clock, as stamp \(from .UTC\(\)`
	_ = rand.Int63n(int64(stamp.Sub(now))) // want `stamp.Sub\(now\) is read on the wall clock, as stamp`
}

func unixDifference() {
	start := time.Now().Unix()
	work()
	elapsed := time.Now().Unix() - start
	_ = rand.Int63n(elapsed) // want `time.Now\(\).Unix\(\) - start is a difference of wall-clock readings \(.Unix\(\), line 92, and .Unix\(\), line 90\).*measure with time.Now\(\) and time.Since`
}

func unixNanoDifference(t0 time.Time) {
	a := t0.UnixNano()
	b := time.Now().UnixNano()
	_ = rand.Int63n(b - a) // want `difference of wall-clock readings \(.UnixNano\(\)`
}

func unixMilliDifference() {
	a, b := time.Now().UnixMilli(), time.Now().UnixMilli()
	_ = rand.Int63n(int64(time.Duration(b-a) * time.Millisecond)) // want `difference of wall-clock readings \(.UnixMilli\(\)`
}

func unixMicroDifference() {
	a := int64(time.Now().UnixMicro())
	_ = rand.Int63n(time.Now().UnixMicro() - a) // want `difference of wall-clock readings \(.UnixMicro\(\)`
}

// Through Duration's number methods, multiplication and division.
func derived() {
	start := time.Now().UTC()
	ms := time.Since(start).Milliseconds()
	half := ms / 2
	_ = rand.Int63n(half * 3) // want `time.Since\(start\) is read on the wall clock`
	secs := int64(time.Since(start).Seconds())
	_ = rand.Int63n(secs)                                        // want `time.Since\(start\)`
	_ = rand.Int63n(int64(time.Since(start).Round(time.Second))) // want `time.Since\(start\)`
}

// Variables captured by a closure are the same variables.
func closure() {
	start := time.Now().UTC()
	f := func() int64 {
		return rand.Int63n(int64(time.Since(start))) // want `time.Since\(start\)`
	}
	_ = f
}

// A function literal outside any function is analysed alone.
var atInit = func() int64 {
	t := time.Now().UTC()
	return rand.Int63n(int64(time.Since(t))) // want `from .UTC\(\),`
}

func work() {}

// Through the package's functions and unexported struct fields that are only
// ever given times without a monotonic reading, or Unix readings.
type conn struct {
	start    time.Time
	lastSeen int64
}

func now() time.Time { return time.Now().UTC() }

func nowMillis() int64 { return time.Now().UnixNano() / 1e6 }

func newConn() *conn { return &conn{start: now(), lastSeen: nowMillis()} }

func (c *conn) touch() { c.lastSeen = time.Now().UnixMilli() }

func (c *conn) jitter() int64 {
	return rand.Int63n(int64(time.Since(c.start))) // want `time.Since\(c.start\) is read on the wall clock, as c.start \(from field start, only ever set from now\(\), which returns .UTC\(\)`
}

func (c *conn) idle() []byte {
	return make([]byte, nowMillis()-c.lastSeen) // want `nowMillis\(\) - c.lastSeen is a difference of wall-clock readings \(nowMillis\(\), which returns .UnixNano\(\), line \d+, and field lastSeen, only ever set from nowMillis`
}

// Through the package's functions: a duration returned, and a parameter
// that reaches a sink.
func (c *conn) age() time.Duration { return time.Since(c.start) }

func (c *conn) sample() int64 {
	return rand.Int63n(int64(c.age())) // want `it comes from age\(\), where time.Since\(c.start\) is read on the wall clock`
}

func backoff(attempt int, d time.Duration) time.Duration {
	return time.Duration(attempt) + time.Duration(rand.Int63n(int64(d)))
}

func (c *conn) retry() time.Duration {
	return backoff(1, time.Since(c.start)) // want `time.Since\(c.start\) is read on the wall clock.*; it is passed to backoff\(\) as d, where rand.Int63n panics unless its argument is positive \(line \d+\)`
}

// Times that the standard library always decodes from bytes.
func stdlib(fi os.FileInfo, cert *x509.Certificate, c *http.Cookie, h http.Header) {
	_ = rand.Int63n(int64(time.Since(fi.ModTime())))  // want `as fi.ModTime\(\) has no monotonic reading`
	_ = rand.Int63n(int64(time.Until(cert.NotAfter))) // want `as cert.NotAfter \(from x509 field NotAfter, a parsed time\) has no monotonic`
	_ = rand.Int63n(int64(time.Until(c.Expires)))     // want `as c.Expires \(from http field Expires`
	t, _ := http.ParseTime(h.Get("Date"))
	_ = rand.Int63n(int64(time.Since(t))) // want `from http.ParseTime`
	d, _ := mail.ParseDate(h.Get("Date"))
	_ = rand.Int63n(int64(time.Since(d))) // want `from mail.ParseDate`
}
