package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/lab"
)

// clientsConfig is --client-cmd and --clients, checked in their names.
func clientsConfig(cmd *cobra.Command, f upFlags) (lab.ClientsConfig, error) {
	if f.clientCmd == "" && !cmd.Flags().Changed("clients") {
		return lab.ClientsConfig{}, nil
	}
	cc := lab.ClientsConfig{Command: f.clientCmd, Count: f.clients}
	if f.clients < 1 {
		return cc, usageError(fmt.Errorf("--clients: %d is out of range 1-%d", f.clients, lab.MaxClients))
	}
	if err := cc.Validate("clients."); err != nil {
		msg := strings.NewReplacer("clients.command", "--client-cmd", "clients.count", "--clients").Replace(config.OneLine(err))
		return cc, usageError(errors.New(msg))
	}
	return cc, nil
}

// printClients is the start-up summary's line for the client processes.
func printClients(w io.Writer, l *lab.Lab) {
	cs := l.Clients()
	if len(cs) == 0 {
		return
	}
	fmt.Fprintf(w, "  clients   %d processes (%s … %s), from %s … %s: their output is prefixed with their name\n",
		len(cs), cs[0].Name, cs[len(cs)-1].Name, cs[0].Addr, cs[len(cs)-1].Addr)
}

// clientLog keeps the balancer's connection events of a lab with client
// processes, for the report Ctrl-C prints.
type clientLog struct {
	l     *lab.Lab
	start time.Time
	log   []events.Event
}

func newClientLog(l *lab.Lab, start time.Time) *clientLog {
	if len(l.Clients()) == 0 {
		return nil
	}
	return &clientLog{l: l, start: start}
}

func (c *clientLog) add(e events.Event) {
	if c == nil || e.Source != "balancer" || (e.Kind != events.ConnOpened && e.Kind != events.ConnClosed) {
		return
	}
	c.log = append(c.log, e)
}

// print says what the client processes went through, times since the
// lab was up.
func (c *clientLog) print(w io.Writer) {
	if c == nil {
		return
	}
	rep := lab.ReportClients(c.l.Clients(), c.log, c.start, time.Now())
	fmt.Fprintln(w, rep.Summary())
	for _, cl := range rep.Clients {
		fmt.Fprintf(w, "  %s\n", cl)
	}
}
