package lab

import (
	"fmt"
	"maps"
	"math"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wslab/wslab/balancer"
	"github.com/wslab/wslab/events"
)

// ClientsReport is what the user's client processes went through, as the
// balancer saw their connections: the client experience of a fault, from
// the processes' own reconnect logic.
type ClientsReport struct {
	Clients []ClientReport `json:"clients"`
	// Dropped is how many clients lost a connection they did not close
	// themselves (a reason other than client_*).
	Dropped int `json:"dropped"`
	// PeakReconnects is the most reconnects the balancer took within one
	// second, from PeakAt on (time since the report's start), and where
	// they landed: the load a fault puts on the survivors.
	PeakReconnects int            `json:"peak_reconnects_per_s"`
	PeakAt         time.Duration  `json:"peak_at_ns"`
	PeakBackends   map[string]int `json:"peak_backends,omitempty"`
	// FirstDrop is when the first of them was dropped; Back95 how long
	// after it 95 % of the dropped clients were connected again (-1:
	// fewer ever were), Back of Dropped by the end.
	FirstDrop time.Duration `json:"first_drop_ns"`
	Back95    time.Duration `json:"back95_ns"`
	Back      int           `json:"back"`
}

// ClientReport is one client process's history.
type ClientReport struct {
	Client string        `json:"client"`
	Addr   string        `json:"addr"`
	Closes []ClosedConn  `json:"closes"`          // every end of its connections
	Down   time.Duration `json:"disconnected_ns"` // from a drop to its next connection, or the end
	// Connections counts the connections it opened; Reconnects those that
	// followed a drop.
	Connections int    `json:"connections"`
	Reconnects  int    `json:"reconnects"`
	Exited      string `json:"exited,omitempty"` // how it ended, if it ended by itself
}

// ClosedConn is one end of a client's connection, as the balancer saw it.
type ClosedConn struct {
	At      time.Duration `json:"at_ns"`
	Code    int           `json:"code"` // the close frame's code that crossed, 1006: none did
	Reason  string        `json:"reason"`
	Backend string        `json:"backend,omitempty"`
}

var sentCloseRE = regexp.MustCompile(`sent close (\d{4})`)

// closeCode is the code of the close frame a conn.closed event says
// crossed the balancer, or 1006 (what a browser reports without one).
func closeCode(detail string) int {
	if m := sentCloseRE.FindStringSubmatch(detail); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 1006
}

// clientDropped reports whether a close was not the client's own doing.
func clientDropped(reason string) bool {
	return !balancer.ReasonMatches(reason, balancer.ReasonClientClosed)
}

// ReportClients builds the report of clients from the balancer's events
// (log, in order), times taken from start; end closes the disconnected
// time of those still down.
func ReportClients(clients []ClientProcess, log []events.Event, start, end time.Time) ClientsReport {
	byAddr := map[string]int{}
	rep := ClientsReport{Back95: -1}
	type state struct {
		open    int
		downAt  time.Time // a drop not followed by a connection yet; zero: none
		dropped bool
		backAt  time.Time // first connection after its first drop
	}
	st := make([]state, len(clients))
	for i, c := range clients {
		byAddr[c.Addr] = i
		rep.Clients = append(rep.Clients, ClientReport{Client: c.Name, Addr: c.Addr, Exited: c.Exited})
	}
	var firstDrop time.Time
	type reconnect struct {
		at      time.Time
		backend string
	}
	var recs []reconnect
	for _, e := range log {
		if e.Source != "balancer" || (e.Kind != events.ConnOpened && e.Kind != events.ConnClosed) {
			continue
		}
		host, _, err := net.SplitHostPort(e.Client)
		i, ok := byAddr[host]
		if err != nil || !ok {
			continue
		}
		s, c := &st[i], &rep.Clients[i]
		if e.Kind == events.ConnOpened {
			s.open++
			c.Connections++
			if !s.downAt.IsZero() {
				c.Down += e.Time.Sub(s.downAt)
				s.downAt = time.Time{}
				c.Reconnects++
				recs = append(recs, reconnect{e.Time, e.Backend})
				if s.backAt.IsZero() {
					s.backAt = e.Time
				}
			}
			continue
		}
		s.open = max(0, s.open-1)
		c.Closes = append(c.Closes, ClosedConn{At: e.Time.Sub(start), Code: closeCode(e.Detail), Reason: e.Reason, Backend: e.Backend})
		if clientDropped(e.Reason) && s.open == 0 {
			s.downAt, s.dropped = e.Time, true
			if firstDrop.IsZero() || e.Time.Before(firstDrop) {
				firstDrop = e.Time
			}
		}
	}
	var backs []time.Duration
	for i := range st {
		if !st[i].downAt.IsZero() && end.After(st[i].downAt) {
			rep.Clients[i].Down += end.Sub(st[i].downAt)
		}
		if st[i].dropped {
			rep.Dropped++
			if !st[i].backAt.IsZero() {
				backs = append(backs, st[i].backAt.Sub(firstDrop))
			}
		}
	}
	rep.Back = len(backs)
	if rep.Dropped > 0 {
		rep.FirstDrop = firstDrop.Sub(start)
		slices.Sort(backs)
		if k := int(math.Ceil(0.95 * float64(rep.Dropped))); len(backs) >= k {
			rep.Back95 = backs[k-1]
		}
	}
	// The busiest second: a window starting at each reconnect.
	for i, r := range recs {
		n := 0
		for _, o := range recs[i:] {
			if o.at.Sub(r.at) < time.Second {
				n++
			}
		}
		if n > rep.PeakReconnects {
			rep.PeakReconnects, rep.PeakAt = n, r.at.Sub(start)
			rep.PeakBackends = map[string]int{}
			for _, o := range recs[i : i+n] {
				rep.PeakBackends[o.backend]++
			}
		}
	}
	return rep
}

// Summary is the report's line for people.
func (r ClientsReport) Summary() string {
	line := fmt.Sprintf("%d client processes: %d dropped", len(r.Clients), r.Dropped)
	if r.Dropped == 0 {
		return line
	}
	line += fmt.Sprintf(" (the first at %s); %d back", fmtAt(r.FirstDrop), r.Back)
	if r.Back95 >= 0 {
		line += fmt.Sprintf(", 95 %% back %.3fs after the first drop", r.Back95.Seconds())
	} else {
		line += ", 95 % never back"
	}
	if r.PeakReconnects > 0 {
		var at []string
		for _, b := range slices.Sorted(maps.Keys(r.PeakBackends)) {
			at = append(at, fmt.Sprintf("%s %d", b, r.PeakBackends[b]))
		}
		line += fmt.Sprintf("; reconnect peak %d/s from %s (%s)", r.PeakReconnects, fmtAt(r.PeakAt), strings.Join(at, ", "))
	}
	return line
}

// String is one client's line.
func (c ClientReport) String() string {
	var closes []string
	for _, cl := range c.Closes {
		closes = append(closes, fmt.Sprintf("%d %s at %s", cl.Code, cl.Reason, fmtAt(cl.At)))
	}
	cs := "none"
	if len(closes) > 0 {
		cs = strings.Join(closes, ", ")
	}
	line := fmt.Sprintf("%s (%s): closes %s; disconnected %.3fs; connections %d, reconnects %d",
		c.Client, c.Addr, cs, c.Down.Seconds(), c.Connections, c.Reconnects)
	if c.Exited != "" {
		line += "; exited: " + c.Exited
	}
	return line
}

func fmtAt(d time.Duration) string { return fmt.Sprintf("%.3fs", d.Seconds()) }
