package admin

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wslab/wslab/events"
)

// Event is an event as the API sends it: its fields and its wording for
// people (events.Event.Text), so every client words events the same way.
type Event struct {
	events.Event
	Text string `json:"text"`
}

// EventHistory is the body of GET /api/events?since=D or ?last=N.
type EventHistory struct {
	Events []Event `json:"events"`
}

func withText(e events.Event) Event { return Event{Event: e, Text: e.Text()} }

// events answers GET /api/events. With since or last and no follow it
// returns the events kept as JSON; otherwise it streams: the events asked
// for (and, after a reconnect, those after Last-Event-ID), then every new
// one as it happens.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	q, asked, err := eventQuery(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	follow := !asked || r.URL.Query().Get("follow") == "1" || r.URL.Query().Get("follow") == "true" ||
		strings.Contains(r.Header.Get("Accept"), "text/event-stream")
	if !follow {
		past := s.cfg.Events.Recent(q)
		h := EventHistory{Events: make([]Event, 0, len(past))}
		for _, e := range past {
			h.Events = append(h.Events, withText(e))
		}
		writeJSON(w, http.StatusOK, h)
		return
	}
	s.eventStream(w, r, q, asked)
}

// eventQuery reads since (a duration back from now), last (a count),
// quiet (leave out routine events: health checks, node-side sessions) and
// the SSE Last-Event-ID; asked reports whether since, last or the ID was
// given.
func eventQuery(r *http.Request) (q events.Query, asked bool, err error) {
	v := r.URL.Query()
	if since := v.Get("since"); since != "" {
		d, err := time.ParseDuration(since)
		if err != nil || d <= 0 {
			return q, false, fmt.Errorf("since: %q is not a positive duration (write it like 5m or 30s)", since)
		}
		q.Since, asked = time.Now().Add(-d), true // wall clock: people ask about the last minutes of their day
	}
	if last := v.Get("last"); last != "" {
		n, err := strconv.Atoi(last)
		if err != nil || n <= 0 {
			return q, false, fmt.Errorf("last: %q is not a positive number of events", last)
		}
		q.Last, asked = n, true
	}
	switch quiet := v.Get("quiet"); quiet {
	case "", "0", "false":
	case "1", "true":
		q.Quiet = true
	default:
		return q, false, fmt.Errorf("quiet: %q is not 1 or 0", quiet)
	}
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		if after, err := strconv.ParseUint(id, 10, 64); err == nil {
			q.After, asked = after, true
		}
	}
	return q, asked, nil
}

// eventStream sends the events of q (when asked) and then every new event
// as a server-sent event, until the client leaves or falls too far behind.
func (s *Server) eventStream(w http.ResponseWriter, r *http.Request, q events.Query, replay bool) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "streaming unsupported")
		return
	}
	var past []events.Event
	var sub *events.Subscription
	if replay {
		past, sub = s.cfg.Events.SubscribeAfter(4096, q)
	} else {
		sub = s.cfg.Events.Subscribe(4096)
	}
	defer sub.Close()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, ": wslab events\n\n")
	for _, e := range past {
		writeEvent(w, e)
	}
	fl.Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case e, ok := <-sub.C():
			if !ok {
				io.WriteString(w, "event: dropped\ndata: {\"error\":\"this stream fell behind and was dropped; reconnect\"}\n\n")
				fl.Flush()
				return
			}
			if !(q.Quiet && e.Routine()) {
				writeEvent(w, e)
			}
			if len(sub.C()) == 0 {
				fl.Flush()
			}
		}
	}
}

func writeEvent(w io.Writer, e events.Event) {
	b, _ := json.Marshal(withText(e))
	fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.Seq, e.Kind, b)
}
