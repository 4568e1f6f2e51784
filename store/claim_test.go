package store_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wslab/wslab/store"
)

// A node that dies right after Redis carried out its first command about
// a message id — the claim, in code that claims first and publishes
// second — leaves nothing that refuses the client's retry on another node:
// the message is in the stream exactly once.
func TestAMessageWhoseNodeDiesAfterClaimingItIsDeliveredOnceByTheRetry(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			channel := uniqueChannel(t)
			survivor := dial(t, b.url, channel)
			key := survivor.Stream() + ":seen:s1:m1"
			msg := store.Message{From: "node-1", Text: "alice: hello " + channel}

			host, db := hostAndDB(b.url)
			relay := dyingRelay(t, host, key)
			doomed := dial(t, "redis://"+relay.addr()+db, channel)
			dup, err := doomed.AppendOnce(ctx, msg, 100, key, time.Minute)
			relay.waitDead(t)
			t.Logf("the dying node's append: dup=%v, %v", dup, err)

			if _, err := survivor.AppendOnce(ctx, msg, 100, key, time.Minute); err != nil {
				t.Fatalf("the retry on another node: %v", err)
			}
			all, err := survivor.Redis().XRange(ctx, survivor.Stream(), "-", "+").Result()
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, e := range all {
				if e.Values["text"] == msg.Text {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("got the message %d times in the stream, want once", n)
			}
			if dup, err := survivor.AppendOnce(ctx, msg, 100, key, time.Minute); err != nil || !dup {
				t.Fatalf("a second retry: got dup=%v, %v; want a duplicate", dup, err)
			}
		})
	}
}

// hostAndDB splits a redis URL into its host:port and its "/db" part.
func hostAndDB(url string) (host, db string) {
	rest := strings.TrimPrefix(url, "redis://")
	if i := strings.Index(rest, "/"); i >= 0 {
		return rest[:i], rest[i:]
	}
	return rest, ""
}

// relay stands between a node and Redis and plays the node's death: it
// passes commands and their replies through until Redis carries out one
// that names key (answers it with anything but an error), then cuts every
// connection, reply unsent, and accepts no more — what Redis sees of a
// node killed right after that command.
type relay struct {
	l    net.Listener
	dead chan struct{}
	once sync.Once
	// mu guards conns.
	mu    sync.Mutex
	conns []net.Conn
}

func dyingRelay(t *testing.T, upstream, key string) *relay {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{l: l, dead: make(chan struct{})}
	var wg sync.WaitGroup
	t.Cleanup(func() { r.die(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			if !r.track(c, u) {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); r.forward(c, u, key) }()
		}
	}()
	return r
}

func (r *relay) addr() string { return r.l.Addr().String() }

// track remembers a pair of connections to cut; after the death it cuts
// them at once and says so.
func (r *relay) track(c, u net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-r.dead:
		c.Close()
		u.Close()
		return false
	default:
	}
	r.conns = append(r.conns, c, u)
	return true
}

// forward passes the node's commands to Redis and Redis's replies back,
// one at a time, and dies once Redis carried out a command that names
// key.
func (r *relay) forward(c, u net.Conn, key string) {
	defer c.Close()
	defer u.Close()
	cr, ur := bufio.NewReader(c), bufio.NewReader(u)
	for {
		cmd, err := readCommand(cr)
		if err != nil {
			return
		}
		if _, err := u.Write(cmd); err != nil {
			return
		}
		var reply bytes.Buffer
		if err := readReply(ur, &reply); err != nil {
			return
		}
		if bytes.Contains(cmd, []byte(key)) && reply.Bytes()[0] != '-' {
			r.die()
			return
		}
		if _, err := c.Write(reply.Bytes()); err != nil {
			return
		}
	}
}

func (r *relay) die() {
	r.once.Do(func() {
		r.mu.Lock()
		close(r.dead)
		conns := r.conns
		r.mu.Unlock()
		r.l.Close()
		for _, c := range conns {
			c.Close()
		}
	})
}

func (r *relay) waitDead(t *testing.T) {
	t.Helper()
	select {
	case <-r.dead:
	case <-time.After(10 * time.Second): // the test's own bound
		t.Fatal("the node never sent a command naming the message id")
	}
}

// readCommand reads one RESP command (an array of bulk strings, as
// go-redis sends them) and returns its bytes as they came.
func readCommand(br *bufio.Reader) ([]byte, error) {
	var out bytes.Buffer
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, err
	}
	out.WriteString(line)
	if !strings.HasPrefix(line, "*") {
		return nil, errors.New("not an array: " + line)
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil {
		return nil, err
	}
	for range n {
		head, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		out.WriteString(head)
		size, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(head, "$")))
		if err != nil {
			return nil, err
		}
		if _, err := io.CopyN(&out, br, int64(size)+2); err != nil {
			return nil, err
		}
	}
	return out.Bytes(), nil
}

// readReply copies one RESP2 reply from br to out.
func readReply(br *bufio.Reader, out *bytes.Buffer) error {
	line, err := br.ReadString('\n')
	if err != nil {
		return err
	}
	out.WriteString(line)
	if len(line) < 3 {
		return errors.New("short reply line")
	}
	n, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
	switch line[0] {
	case '$':
		if n >= 0 {
			_, err = io.CopyN(out, br, int64(n)+2)
		}
		return err
	case '*':
		for range max(n, 0) {
			if err := readReply(br, out); err != nil {
				return err
			}
		}
	}
	return nil
}
