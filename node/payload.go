package node

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"
)

// recordSeparator separates the packets of an Engine.IO v4 polling payload.
const recordSeparator = 0x1e

// errPayload wraps every polling payload parse failure.
var errPayload = errors.New("malformed polling payload")

// parsePollingPayload splits the body of a polling POST into its Engine.IO
// packets: text packets joined by the record separator (0x1e). The packets
// alias body. Binary packets ("b" + base64) are refused, as binary frames
// are on the WebSocket transport; what a packet means is onPacket's to say.
func parsePollingPayload(body []byte) ([][]byte, error) {
	if len(body) == 0 {
		return nil, fmt.Errorf("%w: the body is empty; send packets joined by \\x1e", errPayload)
	}
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("%w: invalid UTF-8 in a text payload", errPayload)
	}
	packets := bytes.Split(body, []byte{recordSeparator})
	for i, p := range packets {
		switch {
		case len(p) == 0:
			return nil, fmt.Errorf("%w: packet %d of %d is empty (two \\x1e in a row, or one at an end)", errPayload, i+1, len(packets))
		case p[0] == 'b':
			return nil, fmt.Errorf("%w: packet %d is binary (%s); this node takes text packets only", errPayload, i+1, quote(string(p)))
		}
	}
	return packets, nil
}

// appendPollingPayload joins packets into the body of a poll response.
func appendPollingPayload(dst []byte, packets [][]byte) []byte {
	for i, p := range packets {
		if i > 0 {
			dst = append(dst, recordSeparator)
		}
		dst = append(dst, p...)
	}
	return dst
}
