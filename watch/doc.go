// Package watch follows NTP servers over time and says what each did around a
// leap second: whether it stepped, smeared (and with which shape, over which
// window) or did nothing, and how far apart the servers of a fleet were at
// any instant.
//
// The package has two layers. Watch (poll.go) is the edge: it polls every
// server once per round, all of them at the same moment, for a bounded time,
// and returns a Record. The analysis (Classify, Align, Spread, Summarize) is
// pure: it takes the recorded samples and never reads a clock or a socket,
// so it is tested with series built from the smear package's exact curves;
// its Summary holds times as time.Time and lengths as time.Duration.
// Rendering (text, the JSON of 'leapsmear watch --json', CSV, charts) lives
// apart, in package watch/report.
//
// Offsets are measured against a continuous local clock: the watcher's
// realtime when the watch started plus the monotonic time elapsed since.
// Neither a leap second applied by the watcher's own kernel nor a step of its
// clock shows up as a change of the servers, so a server that inserts a leap
// second is seen falling one second behind, whether the leap is real or
// rehearsed.
package watch
