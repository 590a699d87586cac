package daemon

import (
	"context"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/leapfile"
)

// TestStopDuringStuckReload: a reload stuck reading a leap file (a file on a
// hung mount, whose open or read never returns) is reported as stuck, leaves
// the server answering with the last good table, and does not delay
// stopping: Run returns once its context ends although the reload is still
// blocked (before the fix the signal loop ran the reload itself and waited
// for it).
func TestStopDuringStuckReload(t *testing.T) {
	cfg, l := config(t, "../leap/testdata/leap-seconds.list")
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	cfg.ReloadTimeout = 100 * time.Millisecond // when the stuck reload is reported
	cfg.reloadFiles = func(paths []string, opt leap.ParseOptions, at time.Time) (*leap.Table, leapfile.Report, error) {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-release
		return leapfile.Load(paths, opt, at)
	}
	d, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer close(release) // lets the abandoned reload and Close finish after the test
	table := d.Table()

	d.RequestReload()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the reload never started")
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(l.records(t, "leap table reload still running")) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the stuck reload was not reported:\n%s", l)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Still serving, with the last good table.
	if resp := query(t, d); resp.Header.Stratum != 2 || d.Table() != table {
		t.Errorf("during the stuck reload: stratum %d, table replaced %v", resp.Header.Stratum, d.Table() != table)
	}
	// A second request folds into the stuck one rather than piling up.
	d.RequestReload()
	d.RequestReload()

	stopping := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		t.Logf("Run returned %v after its context ended, the reload still stuck", time.Since(stopping))
	case <-time.After(10 * StopTimeout):
		t.Fatalf("Run did not return within %v of its context ending while a reload was stuck", 10*StopTimeout)
	}
	if tried, _, _ := d.ReloadStats(); tried != 1 {
		t.Errorf("%d reloads started, want the one stuck", tried)
	}
}
