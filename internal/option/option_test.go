package option

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
	"time"
)

func TestError(t *testing.T) {
	e := Errorf("rate-limit", 0.5, "want %s", "more")
	if e.Error() != "rate-limit 0.5: want more" || e.Flag() != "--rate-limit 0.5: want more" {
		t.Errorf("%q %q", e.Error(), e.Flag())
	}
	if e := Errorf("listen", nil, "give one"); e.Flag() != "--listen: give one" {
		t.Errorf("%q", e.Flag())
	}
	wrapped := fmt.Errorf("start: %w", Errorf("time-offset", time.Hour, "x"))
	if got, ok := As(wrapped); !ok || got.Name != "time-offset" || got.Value != "1h0m0s" {
		t.Errorf("As(%v) = %+v, %v", wrapped, got, ok)
	}
	if _, ok := As(fmt.Errorf("plain")); ok {
		t.Error("a plain error taken for an option error")
	}
}

// TestErrorCause: a %w in the reason keeps the cause for errors.Is and
// errors.As, and prints as %v does.
func TestErrorCause(t *testing.T) {
	cause := &fs.PathError{Op: "open", Path: "/x", Err: fs.ErrNotExist}
	e := Errorf("config", "/x", "%w", cause)
	if e.Error() != "config /x: open /x: file does not exist" {
		t.Errorf("%q", e.Error())
	}
	var pe *fs.PathError
	if wrapped := fmt.Errorf("start: %w", e); !errors.Is(wrapped, fs.ErrNotExist) || !errors.As(wrapped, &pe) || pe != cause {
		t.Errorf("the cause is lost: %v", wrapped)
	}
	if e := Errorf("config", nil, "%v", cause); e.Err != nil || errors.Is(e, fs.ErrNotExist) {
		t.Errorf("%%v kept a cause: %#v", e)
	}
}

// TestRef: an option named inside the reason reads as a flag on the command
// line and as a name elsewhere.
func TestRef(t *testing.T) {
	e := Errorf("rehearse", "x", "allow it (%s), or not (%s)", Ref("allow-jump"), Ref("policy"))
	if e.Error() != "rehearse x: allow it (allow-jump), or not (policy)" || e.Flag() != "--rehearse x: allow it (--allow-jump), or not (--policy)" {
		t.Errorf("%q %q", e.Error(), e.Flag())
	}
}
