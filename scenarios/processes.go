package scenarios

import (
	"context"
	"fmt"
	"time"

	"github.com/wslab/wslab/lab"
)

// reportProcesses ends a run with a lab of client processes
// (lab.clients) with what they went through, as the balancer saw their
// connections: a line for all of them, then one per process. Their times
// are wall time since the lab was up (such a lab runs on the real clock).
func (r *run) reportProcesses() *lab.ClientsReport {
	rep := r.processReport()
	if rep == nil {
		return nil
	}
	r.say("clients %s", rep.Summary())
	for _, c := range rep.Clients {
		r.say("client %s", c)
	}
	return rep
}

// processReport is what the client processes went through so far; nil
// without them.
func (r *run) processReport() *lab.ClientsReport {
	procs := r.lab.Clients()
	if len(procs) == 0 {
		return nil
	}
	r.drain()
	rep := lab.ReportClients(procs, r.log, r.wall, time.Now())
	return &rep
}

// clientsReadyTimeout bounds the wait for every client process to have
// a connection open before the first step (wall time: fifty processes
// start on a busy machine). A client that never connects fails the run
// here, with its output, not somewhere in the middle.
const clientsReadyTimeout = 30 * time.Second

// awaitProcesses waits until the balancer has a connection open from
// every client process: the steps begin once all of them are in, as they
// begin once the nodes are ready.
func (r *run) awaitProcesses(ctx context.Context) error {
	procs := r.lab.Clients()
	if len(procs) == 0 {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, clientsReadyTimeout)
	defer cancel()
	began := time.Now()
	var missing []lab.ClientProcess
	err := r.waitUntil(wctx, 0, func() (bool, string) {
		procs = r.lab.Clients()
		rep := lab.ReportClients(procs, r.log, r.wall, time.Now())
		missing = missing[:0]
		for i, c := range rep.Clients {
			if c.Connections == 0 {
				missing = append(missing, procs[i])
			}
		}
		// Those that have not connected have all exited: nothing to wait for.
		gone := true
		for _, m := range missing {
			gone = gone && !m.Running
		}
		return len(missing) == 0 || gone, fmt.Sprintf("%d of %d client processes have not connected", len(missing), len(procs))
	})
	if err == nil && len(missing) == 0 {
		r.say("all %d client processes connected, in %s", len(procs), time.Since(began).Round(100*time.Millisecond))
		return nil
	}
	first := missing[0]
	why := "it is running (does it connect to {url}?)"
	if first.Exited != "" {
		why = "it exited: " + first.Exited
	}
	after := "after " + clientsReadyTimeout.String()
	if err == nil {
		after = "and exited"
	}
	return fmt.Errorf("%d of %d client processes had no connection open %s; the first, %s (pid %d, url %s): %s",
		len(missing), len(procs), after, first.Name, first.PID, first.URL, why)
}
