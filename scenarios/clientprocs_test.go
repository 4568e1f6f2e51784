package scenarios_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/wslab/wslab/lab"
	"github.com/wslab/wslab/scenarios"
	"github.com/wslab/wslab/scenarios/scenariotest"
)

// beClient, set in its environment, makes the test binary a scripted
// client process (see runHelperClient): the user's own client, whose
// reconnect timings the test knows.
const beClient = "LAB_TEST_BE_CLIENT"

// scriptedDelay is how long the scripted client number index waits after
// its connection ends before it connects again: 1 s to 1.4 s in five
// steps of 100 ms.
func scriptedDelay(index int) time.Duration {
	return time.Second + time.Duration(index%5)*100*time.Millisecond
}

// runHelperClient connects to $LAB_URL's /ws (our chat node's JSON
// protocol), reads until the connection ends, waits its scriptedDelay and
// connects again, until SIGTERM. Its waits are wall time: it is a client
// process, whose time is its own.
func runHelperClient() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	index, _ := strconv.Atoi(os.Getenv("LAB_CLIENT_INDEX"))
	url := strings.Replace(os.Getenv("LAB_URL"), "http://", "ws://", 1) + "/ws"
	delay := scriptedDelay(index)
	for ctx.Err() == nil {
		c, _, err := websocket.Dial(ctx, url, nil)
		if err == nil {
			for err == nil {
				_, _, err = c.Read(ctx)
			}
			c.CloseNow()
			fmt.Printf("connection ended: %v; again in %s\n", err, delay)
		}
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
	}
	return 0
}

func TestFiftyClientProcessesThroughANodeKillGiveTheReconnectPeakAndThe95PercentBackTimeTheirScriptSays(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf(`name: fifty-clients
lab:
  nodes: 2
  clients: {command: %q, count: 50, env: [%s=1]}
steps:
  - kill: node-1
  - advance: 4s
  - expect_spread: {node-2: 50}
`, exe, beClient)
	sc, err := scenarios.Parse("fifty.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	res := scenarios.Run(context.Background(), sc, scenarios.Options{})
	transcript := strings.Join(res.Transcript, "\n")
	if !res.Passed {
		t.Fatalf("the run failed: %v\n%s", res.Failure, transcript)
	}
	if !strings.Contains(transcript, "real clock: its clients are processes") {
		t.Errorf("the transcript does not say it ran on the real clock, and why:\n%s", transcript)
	}
	rep := res.Processes
	if rep == nil || len(rep.Clients) != 50 {
		t.Fatalf("got report %+v, want one of 50 client processes", rep)
	}
	// Which clients node-1 had: those the balancer saw dropped.
	var delays []time.Duration
	// A process's wake-up and reconnect on a busy machine: under a load
	// average of 47 on two cores (the whole suite with -race beside other
	// work) reconnects came up to 1.2 s after their scripted delay; idle,
	// within 30 ms. Never before it.
	const slack = 1500 * time.Millisecond
	for i, c := range rep.Clients {
		if len(c.Closes) == 0 {
			continue
		}
		want := scriptedDelay(i + 1)
		delays = append(delays, want)
		if c.Closes[0].Code != 1006 || c.Reconnects != 1 {
			t.Errorf("%s: got closes %+v and %d reconnects, want one 1006 close and 1 reconnect", c.Client, c.Closes, c.Reconnects)
		}
		if c.Down < want || c.Down > want+slack {
			t.Errorf("%s: got disconnected %s, want its scripted delay %s (+ at most %s)", c.Client, c.Down, want, slack)
		}
	}
	if rep.Dropped != len(delays) || rep.Dropped < 10 || rep.Dropped > 40 {
		t.Fatalf("got %d dropped (%d with closes), want node-1's share of 50, the same", rep.Dropped, len(delays))
	}
	slices.Sort(delays)
	want95 := delays[int(math.Ceil(0.95*float64(len(delays))))-1]
	if rep.Back95 < want95 || rep.Back95 > want95+slack {
		t.Errorf("got 95 %% back after %s, want the scripted %s (+ at most %s)", rep.Back95, want95, slack)
	}
	// The scripted reconnects fall within 1 s..1.4 s of the kill: one
	// second holds them all on an idle machine, at least half on a busy
	// one (lab.ReportClients' window itself is pinned exactly in package
	// lab), and they all land on the survivor.
	if rep.PeakReconnects > rep.Dropped || 2*rep.PeakReconnects < rep.Dropped || rep.PeakBackends["node-2"] != rep.PeakReconnects {
		t.Errorf("got a reconnect peak of %d/s (%v), want %d (at least half of them) on node-2", rep.PeakReconnects, rep.PeakBackends, rep.Dropped)
	}
	if !strings.Contains(transcript, fmt.Sprintf("50 client processes: %d dropped", rep.Dropped)) {
		t.Errorf("the transcript does not give the summary line:\n%s", transcript)
	}
	t.Logf("%s", transcript)
}

func TestTheGoDriverWaitsForYourClientProcessesAndReportsThem(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	d := scenariotest.Start(t, scenarios.Shape{Nodes: 2, Clients: lab.ClientsConfig{Command: exe, Count: 4, Env: []string{beClient + "=1"}}}, 1)
	if rep := d.ClientProcesses(); rep == nil || len(rep.Clients) != 4 || rep.Dropped != 0 {
		t.Fatalf("got %+v at the start, want 4 clients, none dropped", rep)
	}
	for _, c := range d.ClientProcesses().Clients {
		if c.Connections != 1 {
			t.Errorf("%s: got %d connections at the start, want 1: Start returns once every process is in", c.Client, c.Connections)
		}
	}
	d.Kill("node-1")
	d.Advance(4 * time.Second) // the scripted delays are at most 1.4 s, and a busy machine adds some
	d.ExpectSpread(map[string]int{"node-2": 4})
	rep := d.ClientProcesses()
	if rep.Dropped != 2 || rep.Back != 2 || rep.PeakBackends["node-2"] != 2 {
		t.Errorf("got %s, want 2 dropped (round robin over 2 nodes), both back on node-2", rep.Summary())
	}
}
