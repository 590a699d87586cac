// Package option names the option a configuration error is about, so that
// a library can validate its own configuration and the command line can
// report the mistake in the words the user typed: the library says which
// option (by the long name that is both the flag and the config-file key)
// and why; the command turns that into "--name value: why", exit status 2.
package option

import (
	"errors"
	"fmt"
	"strings"
)

// Error is a wrong value of one option.
type Error struct {
	// Name is the option's long name: "duration", "time-offset", ...
	Name string
	// Value is the value given, as the user wrote it or as Go prints it;
	// empty when the mistake is the option's absence or a combination.
	Value string
	// Reason says what is wrong and what is wanted, in words. Other options
	// it names are marked with Ref: read it through Error or Flag.
	Reason string
	// Err is the cause, when the reason wraps one (Errorf's %w): errors.Is
	// and errors.As see through the option error to it. Nil otherwise.
	Err error
}

// Errorf returns an *Error for the option name with the given value (any
// value; nil for none) and reason. A %w in the format wraps its operand as
// the cause (Error.Err), as fmt.Errorf does.
func Errorf(name string, value any, format string, args ...any) *Error {
	reason := fmt.Errorf(format, args...)
	e := &Error{Name: name, Reason: reason.Error()}
	switch reason.(type) {
	case interface{ Unwrap() error }, interface{ Unwrap() []error }:
		e.Err = reason
	}
	if value != nil {
		e.Value = fmt.Sprint(value)
	}
	return e
}

// Unwrap returns the cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// Error renders "name value: reason", as a library reports it.
func (e *Error) Error() string { return e.render("") }

// Flag renders "--name value: reason", as the command line reports it.
func (e *Error) Flag() string { return e.render("--") }

func (e *Error) render(prefix string) string {
	s := prefix + e.Name
	if e.Value != "" {
		s += " " + e.Value
	}
	// The Reason alternates text and the names Ref marked.
	parts := strings.Split(e.Reason, refMark)
	for i := 1; i < len(parts); i += 2 {
		parts[i] = prefix + parts[i]
	}
	return s + ": " + strings.Join(parts, "")
}

// refMark brackets an option name in a Reason (Ref).
const refMark = "\x00"

// Ref names another option inside a Reason, such as the one that would
// allow what is refused, so that it reads as the user would type it:
// "--name" on the command line (Flag), "name" in a library's message or a
// configuration file (Error).
func Ref(name string) string { return refMark + name + refMark }

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
