package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Engine.IO v4 packet types, as the first byte of a text frame.
const (
	eioOpen    = '0'
	eioClose   = '1'
	eioPing    = '2'
	eioPong    = '3'
	eioMessage = '4'
	eioUpgrade = '5'
	eioNoop    = '6'
)

// Socket.IO v5 packet types (protocol of Socket.IO 3 and 4), the first byte
// of an Engine.IO message's data.
const (
	sioConnect      = 0
	sioDisconnect   = 1
	sioEvent        = 2
	sioAck          = 3
	sioConnectError = 4
	sioBinaryEvent  = 5
	sioBinaryAck    = 6
)

// sioPacket is a parsed Socket.IO packet.
type sioPacket struct {
	typ  int
	nsp  string          // namespace, "/" when absent
	ack  int64           // ack id, -1 when absent
	data json.RawMessage // payload, nil when absent
}

// errPacket wraps every parse failure.
var errPacket = errors.New("malformed packet")

// parseSocketIO parses the data of an Engine.IO message packet:
// <type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>].
func parseSocketIO(s string) (sioPacket, error) {
	p := sioPacket{nsp: "/", ack: -1}
	if s == "" || s[0] < '0' || s[0] > '6' {
		return p, fmt.Errorf("%w: socket.io packet %s has no type 0-6", errPacket, quote(s))
	}
	p.typ = int(s[0] - '0')
	rest := s[1:]
	if p.typ == sioBinaryEvent || p.typ == sioBinaryAck {
		return p, fmt.Errorf("%w: binary socket.io packets are not supported", errPacket)
	}
	if strings.HasPrefix(rest, "/") {
		i := strings.IndexByte(rest, ',')
		if i < 0 {
			p.nsp, rest = rest, ""
		} else {
			p.nsp, rest = rest[:i], rest[i+1:]
		}
	}
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	if i > 0 {
		id, err := strconv.ParseInt(rest[:i], 10, 64)
		if err != nil {
			return p, fmt.Errorf("%w: ack id %s out of range", errPacket, quote(rest[:i]))
		}
		p.ack, rest = id, rest[i:]
	}
	if rest != "" {
		if !json.Valid([]byte(rest)) {
			return p, fmt.Errorf("%w: socket.io payload %s is not JSON", errPacket, quote(rest))
		}
		p.data = json.RawMessage(rest)
	}
	return p, nil
}

// event decodes an EVENT payload: a JSON array whose first element is the
// event name.
func (p sioPacket) event() (name string, args []json.RawMessage, err error) {
	if err := json.Unmarshal(p.data, &args); err != nil || len(args) == 0 {
		return "", nil, fmt.Errorf("%w: event payload %s is not a non-empty JSON array", errPacket, quote(string(p.data)))
	}
	if err := json.Unmarshal(args[0], &name); err != nil {
		return "", nil, fmt.Errorf("%w: event name %s is not a string", errPacket, quote(string(args[0])))
	}
	return name, args[1:], nil
}

// encodeEvent frames a Socket.IO event with one string argument as an
// Engine.IO message: 42["event","text"].
func encodeEvent(event, text string) []byte {
	b, _ := json.Marshal([2]string{event, text})
	return append([]byte("42"), b...)
}

// quote shortens and quotes client input for error messages.
func quote(s string) string {
	const max = 24
	if len(s) > max {
		return strconv.Quote(truncate(s, max)) + "…"
	}
	return strconv.Quote(s)
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// textArg reads a string argument the way the tutorial's Python app formats
// it: strings as they are, numbers and booleans as text.
func textArg(args []json.RawMessage) (string, error) {
	if len(args) == 0 {
		return "", errors.New("no argument")
	}
	var v any
	if err := json.Unmarshal(args[0], &v); err != nil {
		return "", err
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case float64:
		return string(args[0]), nil
	case bool:
		if v {
			return "True", nil
		}
		return "False", nil
	}
	return "", fmt.Errorf("argument %s is not a string", quote(string(args[0])))
}
