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
	if !verbose && e.Routine() {
		return "", false
	}
	return fmt.Sprintf("%s %-9s %s", e.Time.Format("15:04:05.000"), e.Source, e.Text()), true
}

func printEvent(w io.Writer, e events.Event, verbose bool) {
	if line, ok := eventLine(e, verbose); ok {
		fmt.Fprintln(w, line)
	}
}
