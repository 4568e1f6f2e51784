package main_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// timedLine is a line of lab up and when the test read it.
type timedLine struct {
	at   time.Time
	text string
}

// connTotals reads u's lines until count connections were opened and as
// many closed, by their own lines and by the summaries, and returns them.
func connTotals(t *testing.T, u *upLab, count int) []timedLine {
	t.Helper()
	var (
		one      = regexp.MustCompile(`balancer\s+c\d+ (opened|closed): `)
		summary  = regexp.MustCompile(`balancer\s+(opened|closed) (\d+) more connections (?:to|on) (.*) in \d+\.\d s`)
		perNode  = regexp.MustCompile(`node-\d+ \((\d+)\)`)
		got      []timedLine
		opened   int
		closed   int
		deadline = time.After(60 * time.Second)
	)
	for opened < count || closed < count {
		select {
		case l := <-u.lines:
			got = append(got, timedLine{time.Now(), l})
			n, kind := 0, ""
			if m := one.FindStringSubmatch(l); m != nil {
				n, kind = 1, m[1]
			} else if m := summary.FindStringSubmatch(l); m != nil {
				n, _ = strconv.Atoi(m[2])
				kind = m[1]
				sum := 0
				for _, pm := range perNode.FindAllStringSubmatch(m[3], -1) {
					c, _ := strconv.Atoi(pm[1])
					sum += c
				}
				if sum != n {
					t.Fatalf("summary %q: the nodes' counts add up to %d, want %d", l, sum, n)
				}
			}
			if kind == "opened" {
				opened += n
			} else if kind == "closed" {
				closed += n
			}
		case <-deadline:
			t.Fatalf("got %d opened and %d closed, want %d each; output:\n%s", opened, closed, count, u.output())
		}
	}
	return got
}

// A burst of 300 connections does not scroll 300 lines: at default
// verbosity lab up prints at most a few lines a second whatever the
// connection rate, and the summaries account for every connection.
func TestABurstOfConnectionsTakesAFewLinesASecond(t *testing.T) {
	u := startUp(t)
	run(t, "load", "--url", u.balancer+"/ws", "--mode", "hold", "--conns", "300", "--ramp", "64", "--duration", "1s", "--progress", "1h")
	lines := connTotals(t, u, 300)
	const most = 8 // 3 lines of their own and 2 summaries a second, two windows may share a second
	for i, l := range lines {
		n := 0
		for _, m := range lines[i:] {
			if m.at.Sub(l.at) < time.Second {
				n++
			}
		}
		if n > most {
			var text []string
			for _, l := range lines {
				text = append(text, l.at.Format("05.000")+" "+l.text)
			}
			t.Fatalf("got %d lines within a second from %s, want at most %d:\n%s", n, l.at.Format("05.000"), most, strings.Join(text, "\n"))
		}
	}
	if len(lines) > 40 {
		t.Fatalf("got %d lines for 300 connections, want a few summaries", len(lines))
	}
}

// With -v every connection gets its line.
func TestVerboseUpPrintsEveryConnection(t *testing.T) {
	u := startUp(t, "-v")
	run(t, "load", "--url", u.balancer+"/ws", "--mode", "hold", "--conns", "200", "--ramp", "64", "--duration", "500ms", "--progress", "1h")
	lines := connTotals(t, u, 200)
	for _, l := range lines {
		if strings.Contains(l.text, "more connections") {
			t.Fatalf("got %q with -v, want every connection on its own line", l.text)
		}
	}
}
