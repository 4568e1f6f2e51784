package balancer

import (
	"fmt"
	"net/http"
	"time"
)

// refusal is what a client that gets no tunnel hears: code, a one-line
// plain-text reason, and the connection closed. Both front doors send its
// bytes; the net/http path writes the same through a ResponseWriter.
type refusal struct {
	code   int
	reason string
}

// header is the refusal's header fields besides Content-Length.
func (f refusal) header() [][2]string {
	h := [][2]string{{"Content-Type", "text/plain; charset=utf-8"}, {"Connection", "close"}}
	if f.code == http.StatusBadRequest && len(f.reason) > 21 && f.reason[:21] == "Sec-WebSocket-Version" {
		h = append(h, [2]string{"Sec-WebSocket-Version", "13"}) // RFC 6455 §4.4: the version we speak
	}
	return h
}

func (f refusal) body() string {
	return fmt.Sprintf("%d %s: %s\n", f.code, http.StatusText(f.code), f.reason)
}

// bytes is the whole answer, for a connection net/http does not serve.
func (f refusal) bytes() []byte {
	body := f.body()
	out := fmt.Appendf(nil, "HTTP/1.1 %d %s\r\n", f.code, http.StatusText(f.code))
	for _, kv := range f.header() {
		out = append(append(append(append(out, kv[0]...), ": "...), kv[1]...), crlf...)
	}
	out = fmt.Appendf(out, "Content-Length: %d\r\n\r\n", len(body))
	return append(out, body...)
}

// write sends the refusal through net/http.
func (f refusal) write(w http.ResponseWriter) {
	for _, kv := range f.header() {
		w.Header().Set(kv[0], kv[1])
	}
	w.WriteHeader(f.code)
	fmt.Fprint(w, f.body())
}

// requestTimeout is the answer to a client too slow to send its request
// head.
func requestTimeout(d time.Duration) []byte {
	return refusal{http.StatusRequestTimeout, fmt.Sprintf("the request headers did not arrive within %s", d)}.bytes()
}

// bareLFReason is what a client whose head has a bare LF hears, with 400.
const bareLFReason = "a line of the request head ends in a bare LF: end every line with CRLF (RFC 9112 §2.2)"
