package load

import "encoding/json"

// MeasuresLatency reports whether the mode times messages: rtt (round
// trips) and chat (fan-out). Flood counts, hold only pings once.
func (m Mode) MeasuresLatency() bool { return m == RTT || m == Chat }

// MeasuresRate reports whether the mode measures messages per second.
func (m Mode) MeasuresRate() bool { return m != Hold }

// MeasuresBytes reports whether the mode knows the bytes it moved: the
// echo modes send messages of --size; a chat message's size is the
// server's business.
func (m Mode) MeasuresBytes() bool { return m == RTT || m == Flood }

// MarshalJSON writes the report without the figures its mode does not
// measure, so a zero in the JSON is always a measured zero.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report
	out := struct {
		plain
		// Shallower fields win over plain's of the same name.
		MsgsPerSec *float64 `json:"msgs_per_sec,omitempty"`
		MBPerSec   *float64 `json:"mb_per_sec,omitempty"`
		P50        *int64   `json:"p50_ns,omitempty"`
		P90        *int64   `json:"p90_ns,omitempty"`
		P99        *int64   `json:"p99_ns,omitempty"`
		Max        *int64   `json:"max_ns,omitempty"`
	}{plain: plain(r)}
	if r.Mode.MeasuresRate() {
		out.MsgsPerSec = &r.MsgsPerSec
	}
	if r.Mode.MeasuresBytes() {
		out.MBPerSec = &r.MBPerSec
	}
	if r.Mode.MeasuresLatency() {
		p50, p90, p99, mx := int64(r.P50), int64(r.P90), int64(r.P99), int64(r.Max)
		out.P50, out.P90, out.P99, out.Max = &p50, &p90, &p99, &mx
	}
	return json.Marshal(out)
}

// MarshalJSON leaves out the reconnect figures of a run in which no user
// dropped: there was nothing to come back from.
func (d Delivery) MarshalJSON() ([]byte, error) {
	type plain Delivery
	out := struct {
		plain
		PeakReconnectRate *int64 `json:"peak_reconnects_per_sec,omitempty"`
		Back95            *int64 `json:"back95_ns,omitempty"`
	}{plain: plain(d)}
	if d.Drops > 0 {
		b := int64(d.Back95)
		out.PeakReconnectRate, out.Back95 = &d.PeakReconnectRate, &b
	}
	return json.Marshal(out)
}
