package lab

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"sync"
)

// outputSink is where the lines that command nodes (and hooks) print go,
// each prefixed with the node's name, as docker compose and foreman do.
type outputSink struct {
	// mu keeps each line in one piece: every node's reader writes here.
	mu sync.Mutex
	w  io.Writer // nil: discarded
}

func (o *outputSink) line(name, text string) {
	if o == nil || o.w == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintf(o.w, "%-9s | %s\n", name, text)
}

// tailLines is how many of a process's last lines an error quotes.
const tailLines = 12

// tail keeps the last lines a process printed, for the errors that need
// them ("exited before it was ready; its last output: ...").
type tail struct {
	// mu guards the fields below: the reader adds while a fault reads.
	mu    sync.Mutex
	lines []string
	total int
}

func (t *tail) add(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.total++
	if len(t.lines) == tailLines {
		t.lines = append(t.lines[:0], t.lines[1:]...)
	}
	t.lines = append(t.lines, s)
}

// String quotes the last lines, or says the process printed nothing.
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.total == 0 {
		return "it printed nothing"
	}
	head := "its output:"
	if t.total > len(t.lines) {
		head = fmt.Sprintf("its last %d lines of output:", len(t.lines))
	}
	return head + "\n  | " + strings.Join(t.lines, "\n  | ")
}

// copyLines reads r line by line until it ends, into the tail and the
// sink. A line longer than 64 KiB is cut in pieces.
func copyLines(r io.Reader, name string, t *tail, sink *outputSink) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		b, err := br.ReadSlice('\n')
		if len(b) > 0 {
			s := strings.TrimRight(string(b), "\r\n")
			t.add(s)
			sink.line(name, s)
		}
		if err != nil && err != bufio.ErrBufferFull {
			return
		}
	}
}
