package events

import (
	"fmt"
	"strings"
)

// Text words the event for people, without its time and source. It is the
// one place events become sentences: lab up's terminal, lab ctl events and
// the dashboard (the admin API sends it as "text") all show it.
func (e Event) Text() string {
	switch e.Kind {
	case ConnOpened:
		if e.Backend == "" {
			return fmt.Sprintf("session %s joined from %s", e.Conn, e.Client)
		}
		return fmt.Sprintf("%s opened: %s → %s (generation %d)", e.Conn, e.Client, e.Backend, e.Generation)
	case ConnClosed:
		if e.Backend == "" {
			return withDetail(fmt.Sprintf("session %s left: %s", e.Conn, words(e.Reason)), e.Detail)
		}
		return fmt.Sprintf("%s closed: %s on %s, %s", e.Conn, strings.ToUpper(e.Reason), e.Backend, e.Detail)
	case RequestTimeout:
		return fmt.Sprintf("request from %s to %s ended by the %s: %s", e.Client, e.Backend, words(e.Reason), e.Detail)
	case BackendCheck:
		return strings.TrimSpace(fmt.Sprintf("health check of %s: %s %s", e.Backend, e.Reason, e.Detail))
	case BackendHealth:
		return fmt.Sprintf("%s is now %s: %s", e.Backend, strings.ToUpper(e.Reason), e.Detail)
	case GroupHealth:
		if e.Reason == "all_unhealthy" {
			return "NO HEALTHY BACKEND: " + e.Detail
		}
		return "server group " + words(e.Reason) + ": " + e.Detail
	case BackendDrain:
		return fmt.Sprintf("%s %s: %s", e.Backend, words(e.Reason), e.Detail)
	case BackendLag:
		return fmt.Sprintf("%s deregistration lag %s: %s", e.Backend, words(e.Reason), e.Detail)
	case BackendFailure:
		return fmt.Sprintf("could not reach %s (passive failure, trying another): %s", e.Backend, e.Detail)
	case ConfigApplied:
		return fmt.Sprintf("config generation %d applied: %s", e.Generation, e.Detail)
	case ConfigRejected:
		return fmt.Sprintf("config REJECTED, generation %d keeps serving: %s", e.Generation, e.Detail)
	case NodeFault:
		return "fault: " + e.Detail
	case NodeStarted:
		return "started, " + e.Detail
	case NodeStopped:
		if e.Detail != "" { // a command node that exited, a url node that does not answer
			return nodeStopped(e.Reason) + ": " + e.Detail
		}
		return nodeStopped(e.Reason)
	case StoreError:
		return "REDIS UNREACHABLE: " + e.Detail
	case StoreRecovered:
		return "redis reachable again"
	case StoreRestored:
		return e.Detail // "redis came back without its data; restored N sessions ..."
	case StickyRepick:
		return withDetail(fmt.Sprintf("sticky cookie not followed (%s): picked %s", words(e.Reason), e.Backend), e.Detail)
	case LinkFault:
		return words(e.Reason) + ": " + e.Detail
	}
	// A kind this version does not know (a newer lab's): its parts, in words.
	return withDetail(strings.TrimSpace(words(strings.ReplaceAll(string(e.Kind), ".", " "))+" "+words(e.Reason)), e.Detail)
}

// nodeStopped says how a node stopped listening, by node/fault.go's reasons.
func nodeStopped(reason string) string {
	switch reason {
	case "killed":
		return "stopped listening: killed, its connections dropped without a close frame"
	case "stopped":
		return "stopped listening: stopped gracefully, its WebSockets sent 1001 Going Away"
	case "closed":
		return "stopped listening: shut down with the lab"
	case "":
		return "stopped listening"
	}
	return "stopped listening: " + words(reason)
}

// words turns a reason code into words: all_unhealthy → all unhealthy.
func words(code string) string { return strings.ReplaceAll(code, "_", " ") }

func withDetail(s, detail string) string {
	if detail == "" {
		return s
	}
	return s + " (" + detail + ")"
}
