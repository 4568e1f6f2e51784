package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/wslab/wslab/events"
)

// eventLine formats an event for people, or reports false for events only
// shown with --verbose (every health check, every node-side session).
func eventLine(e events.Event, verbose bool) (string, bool) {
	src := fmt.Sprintf("%-9s", e.Source)
	var msg string
	switch e.Kind {
	case events.ConnOpened:
		if e.Backend != "" {
			msg = fmt.Sprintf("%s opened: %s → %s (generation %d)", e.Conn, e.Client, e.Backend, e.Generation)
		} else {
			if !verbose {
				return "", false
			}
			msg = fmt.Sprintf("session %s joined from %s", e.Conn, e.Client)
		}
	case events.ConnClosed:
		if e.Backend != "" {
			msg = fmt.Sprintf("%s closed: %s on %s, %s", e.Conn, strings.ToUpper(e.Reason), e.Backend, e.Detail)
		} else {
			if !verbose && e.Reason != "ping_timeout" && e.Reason != "protocol_error" && e.Reason != "slow_consumer" {
				return "", false
			}
			msg = fmt.Sprintf("session %s left: %s", e.Conn, e.Reason)
			if e.Detail != "" {
				msg += " (" + e.Detail + ")"
			}
		}
	case events.BackendCheck:
		if !verbose {
			return "", false
		}
		msg = fmt.Sprintf("health check of %s: %s %s", e.Backend, e.Reason, e.Detail)
	case events.BackendHealth:
		msg = fmt.Sprintf("%s is now %s: %s", e.Backend, strings.ToUpper(e.Reason), e.Detail)
	case events.GroupHealth:
		if e.Reason == "all_unhealthy" {
			msg = "NO HEALTHY BACKEND: " + e.Detail
		} else {
			msg = "server group " + e.Reason + ": " + e.Detail
		}
	case events.BackendDrain:
		msg = fmt.Sprintf("%s %s: %s", e.Backend, e.Reason, e.Detail)
	case events.BackendFailure:
		msg = fmt.Sprintf("could not reach %s (passive failure, trying another): %s", e.Backend, e.Detail)
	case events.ConfigApplied:
		msg = fmt.Sprintf("config generation %d applied: %s", e.Generation, e.Detail)
	case events.ConfigRejected:
		msg = fmt.Sprintf("config REJECTED, generation %d keeps serving: %s", e.Generation, e.Detail)
	case events.NodeFault:
		msg = "fault: " + e.Detail
	case events.NodeStarted:
		msg = "started, " + e.Detail
	case events.NodeStopped:
		msg = "stopped (" + e.Reason + ")"
		if e.Detail != "" { // a command node that exited, a url node that does not answer
			msg += ": " + e.Detail
		}
	case events.StoreError:
		msg = "REDIS UNREACHABLE: " + e.Detail
	case events.StoreRecovered:
		msg = "redis reachable again"
	case events.LinkFault:
		msg = e.Reason + ": " + e.Detail
	case events.StoreRestored:
		msg = e.Detail // "redis came back without its data; restored N sessions ..."
	default:
		msg = e.String()
	}
	return fmt.Sprintf("%s %s %s", e.Time.Format("15:04:05.000"), src, msg), true
}

func printEvent(w io.Writer, e events.Event, verbose bool) {
	if line, ok := eventLine(e, verbose); ok {
		fmt.Fprintln(w, line)
	}
}
