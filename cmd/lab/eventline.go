package main

import (
	"fmt"
	"io"

	"github.com/wslab/wslab/events"
)

// eventLine formats an event for the terminal (its time, its source, and
// events.Event.Text, which words it), or reports false for events only
// shown with --verbose (every health check, every node-side session).
func eventLine(e events.Event, verbose bool) (string, bool) {
	if !verbose && routine(e) {
		return "", false
	}
	return fmt.Sprintf("%s %-9s %s", e.Time.Format("15:04:05.000"), e.Source, e.Text()), true
}

// routine reports whether e is one of the many events a person does not
// need to see unless asked: every health check, every node-side session
// that came and went normally.
func routine(e events.Event) bool {
	switch e.Kind {
	case events.BackendCheck:
		return true
	case events.ConnOpened:
		return e.Backend == ""
	case events.ConnClosed:
		return e.Backend == "" && e.Reason != "ping_timeout" && e.Reason != "protocol_error" && e.Reason != "slow_consumer"
	}
	return false
}

func printEvent(w io.Writer, e events.Event, verbose bool) {
	if line, ok := eventLine(e, verbose); ok {
		fmt.Fprintln(w, line)
	}
}
