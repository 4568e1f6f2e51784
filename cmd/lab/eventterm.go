package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/wslab/wslab/events"
)

// Terminal pacing: at default verbosity a burst of connections must not
// scroll the terminal. In each window, the first connLinesPerWindow
// connection events get their own line; the rest are counted and summed
// up at the end of the window in at most one line for those opened and
// one for those closed. Whatever the connection rate, connection events
// take at most connLinesPerWindow+2 lines a window. Other events (faults,
// health, reloads) always get their line at once.
const (
	termWindow         = time.Second
	connLinesPerWindow = 3
	// TermTick is how often the loops that feed an eventTerm call tick.
	termTick = 250 * time.Millisecond
)

// eventTerm prints events to a terminal. It is not safe for concurrent
// use: one loop owns it.
type eventTerm struct {
	w       io.Writer
	verbose bool             // every event on its own line, no summaries
	now     func() time.Time // paces the lines; the wall clock in lab up: a person reads them

	windowStart time.Time
	lines       int // connection lines printed in this window
	opened      burst
	closed      burst
}

// burst counts the connection events of one kind held back in a window.
type burst struct {
	n           int
	first, last events.Event
	perBackend  map[string]int
	perReason   map[string]int
}

func (b *burst) add(e events.Event) {
	if b.n == 0 {
		b.first, b.perBackend, b.perReason = e, map[string]int{}, map[string]int{}
	}
	b.n++
	b.last = e
	b.perBackend[e.Backend]++
	if e.Reason != "" {
		b.perReason[strings.ToUpper(e.Reason)]++
	}
}

func newEventTerm(w io.Writer, verbose bool, now func() time.Time) *eventTerm {
	return &eventTerm{w: w, verbose: verbose, now: now}
}

// event prints e, or counts it into the window's summary.
func (t *eventTerm) event(e events.Event) {
	line, ok := eventLine(e, t.verbose)
	if !ok {
		return
	}
	conn := (e.Kind == events.ConnOpened || e.Kind == events.ConnClosed) && e.Backend != ""
	if t.verbose || !conn {
		t.flush() // what came before it, first
		fmt.Fprintln(t.w, line)
		return
	}
	t.tick()
	if t.windowStart.IsZero() {
		t.windowStart = t.now()
	}
	if t.lines < connLinesPerWindow {
		t.lines++
		fmt.Fprintln(t.w, line)
		return
	}
	if e.Kind == events.ConnOpened {
		t.opened.add(e)
	} else {
		t.closed.add(e)
	}
}

// tick ends the window once it is over: its summaries are printed and the
// next connection event starts a new one.
func (t *eventTerm) tick() {
	if !t.windowStart.IsZero() && t.now().Sub(t.windowStart) >= termWindow {
		t.flush()
		t.windowStart, t.lines = time.Time{}, 0
	}
}

// flush prints the summaries held back.
func (t *eventTerm) flush() {
	if b := &t.opened; b.n > 0 {
		t.summary(b, "opened %d more connections to %s", "")
	}
	if b := &t.closed; b.n > 0 {
		t.summary(b, "closed %d more connections on %s", counts(b.perReason, ""))
	}
}

func (t *eventTerm) summary(b *burst, format, reasons string) {
	defer func() { *b = burst{} }()
	if b.n == 1 { // a summary of one says less than its own line
		line, _ := eventLine(b.first, t.verbose)
		fmt.Fprintln(t.w, line)
		return
	}
	msg := fmt.Sprintf(format, b.n, counts(b.perBackend, "(")) + fmt.Sprintf(" in %.1f s", b.last.Time.Sub(b.first.Time).Seconds())
	if reasons != "" {
		msg += ": " + reasons
	}
	fmt.Fprintf(t.w, "%s %-9s %s\n", b.last.Time.Format("15:04:05.000"), b.last.Source, msg)
}

// counts writes "node-1 (150), node-2 (150)" (paren "(") or
// "BACKEND_FIN 290, IDLE_TIMEOUT 10", by name.
func counts(m map[string]int, paren string) string {
	var names []string
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, k := range names {
		if paren != "" {
			parts[i] = fmt.Sprintf("%s (%d)", k, m[k])
		} else {
			parts[i] = fmt.Sprintf("%s %d", k, m[k])
		}
	}
	return strings.Join(parts, ", ")
}
