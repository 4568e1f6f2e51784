package balancer

import (
	"net"
	"sync/atomic"
	"syscall"
	"time"
)

// hangUpWatch notices a client that hangs up while the goroutine front
// door waits for the backend's answer to its upgrade, and closes the
// backend's connection at once (the event loop sees the same from epoll).
// It only peeks at the client's socket, so bytes the client sends early
// stay for the tunnel; a client that sends any is there, and the watch
// ends. A connection without a socket of its own (TLS) is not watched: its
// hang-up is noticed once the backend answers, as before.
type hangUpWatch struct {
	client net.Conn
	done   chan struct{}
	gone   atomic.Bool
}

// watchHangUp starts watching client for bc's handshake; stop ends it. It
// returns nil when client cannot be watched.
func watchHangUp(client, bc net.Conn) *hangUpWatch {
	if !canPeek {
		return nil
	}
	sc, ok := client.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	w := &hangUpWatch{client: client, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		var gone bool
		err := rc.Read(func(fd uintptr) bool {
			var again bool
			gone, again = peekHangUp(fd)
			return !again // false parks until the socket is readable
		})
		if err == nil && gone {
			w.gone.Store(true)
			bc.Close() // the handshake's read of the answer fails now
		}
	}()
	return w
}

// stop ends the watch, waits for its goroutine and reports whether the
// client hung up.
func (w *hangUpWatch) stop() bool {
	if w == nil {
		return false
	}
	w.client.SetReadDeadline(time.Unix(1, 0)) // wakes the watch's wait
	<-w.done
	w.client.SetReadDeadline(time.Time{})
	return w.gone.Load()
}
