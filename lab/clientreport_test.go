package lab_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/lab"
)

func TestTheClientReportCountsDropsReconnectsThePeakAndThe95PercentBackTime(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	open := func(ms int, addr, backend string) events.Event {
		return events.Event{Time: at(ms), Kind: events.ConnOpened, Source: "balancer", Client: addr + ":40000", Backend: backend}
	}
	closed := func(ms int, addr, reason, detail string) events.Event {
		return events.Event{Time: at(ms), Kind: events.ConnClosed, Source: "balancer", Client: addr + ":40000", Backend: "node-1", Reason: reason, Detail: detail}
	}
	var clients []lab.ClientProcess
	var log []events.Event
	// Twenty clients on node-1; at 1 s it dies. Client i comes back on
	// node-2 i*100 ms later, except client 20, who never does; client 21,
	// on node-2, leaves by itself (not a drop).
	for i := 1; i <= 21; i++ {
		addr := "127.0.1." + itoa(i)
		clients = append(clients, lab.ClientProcess{Name: "client-" + itoa(i), Addr: addr})
		log = append(log, open(0, addr, "node-1"))
	}
	log = append(log, events.Event{Time: at(500), Kind: events.ConnOpened, Source: "node-2", Client: "127.0.1.1:1"}) // not the balancer's
	for i := 1; i <= 20; i++ {
		log = append(log, closed(1000, "127.0.1."+itoa(i), "backend_fin", "after 1s"))
	}
	log = append(log, closed(1200, "127.0.1.21", "client_close_frame", "client sent close 1000, after 1.2s"))
	for i := 1; i <= 19; i++ {
		log = append(log, open(1000+i*100, "127.0.1."+itoa(i), "node-2"))
	}
	rep := lab.ReportClients(clients, log, t0, at(5000))

	if rep.Dropped != 20 || rep.Back != 19 {
		t.Errorf("got %d dropped, %d back; want 20, 19", rep.Dropped, rep.Back)
	}
	// 95 % of 20 is 19: the 19th back, 1.9 s after the drop.
	if rep.Back95 != 1900*time.Millisecond || rep.FirstDrop != time.Second {
		t.Errorf("got 95 %% back after %s, first drop at %s; want 1.9s, 1s", rep.Back95, rep.FirstDrop)
	}
	// Reconnects at 1.1 s ... 2.9 s, one per 100 ms: ten within a second.
	if rep.PeakReconnects != 10 || rep.PeakAt != 1100*time.Millisecond || rep.PeakBackends["node-2"] != 10 {
		t.Errorf("got peak %d/s at %s on %v; want 10/s at 1.1s, all on node-2", rep.PeakReconnects, rep.PeakAt, rep.PeakBackends)
	}
	c3, c20, c21 := rep.Clients[2], rep.Clients[19], rep.Clients[20]
	if c3.Down != 300*time.Millisecond || c3.Reconnects != 1 || c3.Connections != 2 || c3.Closes[0].Code != 1006 {
		t.Errorf("got client-3 %+v; want 300ms down, 1 reconnect, 2 connections, a 1006 close", c3)
	}
	if c20.Down != 4*time.Second || c20.Reconnects != 0 {
		t.Errorf("got client-20 down %s, %d reconnects; want 4s to the end, 0", c20.Down, c20.Reconnects)
	}
	if c21.Down != 0 || c21.Closes[0].Code != 1000 || c21.Closes[0].Reason != "client_close_frame" {
		t.Errorf("got client-21 %+v; want a 1000 close of its own, never counted down", c21)
	}
	if rep.Back95 < 0 {
		t.Fatal("95 % back not reached")
	}
	want := "21 client processes: 20 dropped (the first at 1.000s); 19 back, 95 % back 1.900s after the first drop; reconnect peak 10/s from 1.100s (node-2 10)"
	if got := rep.Summary(); got != want {
		t.Errorf("got summary\n%s\nwant\n%s", got, want)
	}
}

func TestTheClientReportSaysWhen95PercentNeverCameBack(t *testing.T) {
	t0 := time.Now()
	clients := []lab.ClientProcess{{Name: "client-1", Addr: "127.0.1.1"}, {Name: "client-2", Addr: "127.0.1.2"}}
	log := []events.Event{
		{Time: t0, Kind: events.ConnOpened, Source: "balancer", Client: "127.0.1.1:5"},
		{Time: t0, Kind: events.ConnOpened, Source: "balancer", Client: "127.0.1.2:5"},
		{Time: t0.Add(time.Second), Kind: events.ConnClosed, Source: "balancer", Client: "127.0.1.1:5", Reason: "idle_timeout"},
		{Time: t0.Add(time.Second), Kind: events.ConnClosed, Source: "balancer", Client: "127.0.1.2:5", Reason: "idle_timeout"},
		{Time: t0.Add(2 * time.Second), Kind: events.ConnOpened, Source: "balancer", Client: "127.0.1.1:6", Backend: "node-2"},
	}
	rep := lab.ReportClients(clients, log, t0, t0.Add(3*time.Second))
	if rep.Back95 != -1 || rep.Back != 1 {
		t.Errorf("got 95 %% back %s with %d back; want never (-1), 1", rep.Back95, rep.Back)
	}
	if got, want := rep.Summary(), "2 client processes: 2 dropped (the first at 1.000s); 1 back, 95 % never back; reconnect peak 1/s from 2.000s (node-2 1)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
