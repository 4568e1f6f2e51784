package profiles

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Status says how far a value can be trusted.
type Status string

// The three statuses a source can have.
const (
	Documented Status = "documented" // the vendor's own page states it
	Observed   Status = "observed"   // measured here against the real proxy
	Assumed    Status = "assumed"    // the vendor does not say; Note says what we assumed and why
)

// ReadDate is the day the sources in this package were read or measured.
const ReadDate = "2026-11-29"

// Source is where a value comes from.
type Source struct {
	URL    string `json:"url"`
	Read   string `json:"read"` // YYYY-MM-DD
	Status Status `json:"status"`
	Note   string `json:"note,omitempty"` // what the page says, or what is assumed and why
}

// Value is one sourced field of a profile.
type Value[T any] struct {
	V      T
	Source Source
}

// Forever is a duration meaning "waits until the connection closes by
// itself", e.g. nginx's old workers after a reload.
const Forever time.Duration = -1

// Range is the span a user may configure; Max 0 means no upper bound. A
// zero Range means the value cannot be changed.
type Range struct {
	Min, Max time.Duration
}

// Direction names the traffic that restarts an idle timer.
type Direction string

// Directions.
const (
	BothWays        Direction = "both"              // a byte either way resets the timer
	ClientToBackend Direction = "client_to_backend" // only what the client sends
	BackendToClient Direction = "backend_to_client" // only what the backend sends
	NoTimer         Direction = "none"              // there is no idle timer
)

// ResetRule is which traffic resets the idle timer.
type ResetRule struct {
	Direction Direction `json:"direction"`
	// ControlFrames is true when WebSocket ping/pong frames count as
	// traffic. Proxies that do not parse frames see them as bytes.
	ControlFrames bool `json:"control_frames"`
}

// CutKind is how a load balancer ends a connection it decided to end.
type CutKind string

// Cut kinds.
const (
	CloseFrame CutKind = "close_frame" // a WebSocket Close frame with a code
	FIN        CutKind = "fin"         // the TCP connection is closed with no Close frame
	Reset      CutKind = "reset"       // TCP RST
	NeverCut   CutKind = "none"        // the load balancer never ends it
)

// Cut is what the client sees when the load balancer ends a connection.
type Cut struct {
	Kind CutKind `json:"kind"`
	Code int     `json:"code,omitempty"` // the Close frame's code, for CloseFrame
}

// BrowserCode is the close code a browser's WebSocket reports for the cut:
// the frame's code for a Close frame, 1006 (abnormal closure) for a FIN or
// a reset, 0 when the connection is never cut.
func (c Cut) BrowserCode() int {
	switch c.Kind {
	case CloseFrame:
		return c.Code
	case FIN, Reset:
		return 1006
	}
	return 0
}

// String renders the cut as people read it.
func (c Cut) String() string {
	switch c.Kind {
	case CloseFrame:
		return fmt.Sprintf("close frame %d", c.Code)
	case FIN:
		return "FIN, no close frame"
	case Reset:
		return "TCP reset"
	}
	return "never cut"
}

// HealthCheck is the active health check a profile starts with. When
// Enabled is false the other fields are the defaults that apply once it is
// switched on, or zero where there are none.
type HealthCheck struct {
	Enabled      Value[bool]
	Path         Value[string]
	Method       Value[string]
	SuccessCodes Value[string]
	Interval     Value[time.Duration]
	Timeout      Value[time.Duration]
	Healthy      Value[int] // consecutive passes to turn healthy
	Unhealthy    Value[int] // consecutive failures to turn unhealthy
}

// FunctionTarget is what happens to an upgrade sent to a serverless target.
type FunctionTarget struct {
	Kind string `json:"kind"` // e.g. "lambda"; "" when the product has no function targets
	// UpgradeStatus is the HTTP status an upgrade request gets; 0 when it
	// is passed on.
	UpgradeStatus int `json:"upgrade_status,omitempty"`
}

// Profile is what one load balancer does to long-lived connections.
type Profile struct {
	Name   string // the key: aws-alb, nginx-default, ...
	Title  string // one line for people
	Vendor string

	IdleTimeout   Value[time.Duration] // 0: no idle timeout
	IdleRange     Value[Range]
	IdleResetBy   Value[ResetRule]
	MaxLifetime   Value[time.Duration] // 0: no cap
	LifetimeRange Value[Range]
	Cut           Value[Cut] // what the client sees when the idle timeout or lifetime ends it

	Health HealthCheck

	DeregistrationDelay Value[time.Duration] // Forever: waits for the connections to end
	DrainByDefault      Value[bool]          // false: removing a target does not drain unless enabled
	DrainCut            Value[Cut]           // what a connection still open when the delay ends sees

	FailOpen        Value[bool]   // every target unhealthy: route to all of them
	StickyCookie    Value[string] // "" when the product inserts none by default
	MaxHeaderBytes  Value[int]    // 0: not documented
	FunctionUpgrade Value[FunctionTarget]
}

// ErrUnknown is returned by Get for a name that is not a profile.
var ErrUnknown = errors.New("profiles: unknown profile")

// List returns every profile, in the order of the issue: the seed's
// clouds, the local proxies, then the rest.
func List() []Profile {
	out := make([]Profile, 0, len(all))
	for _, f := range all {
		out = append(out, f())
	}
	return out
}

// Names returns the names of every profile, in List order.
func Names() []string {
	var names []string
	for _, p := range List() {
		names = append(names, p.Name)
	}
	return names
}

// Get returns the profile called name. The error names the known profiles.
func Get(name string) (Profile, error) {
	for _, p := range List() {
		if p.Name == name {
			return p, nil
		}
	}
	known := Names()
	if i := slices.IndexFunc(known, func(k string) bool { return strings.EqualFold(k, name) }); i >= 0 {
		return Profile{}, fmt.Errorf("%w %q: did you mean %q? known profiles: %s", ErrUnknown, name, known[i], strings.Join(known, ", "))
	}
	return Profile{}, fmt.Errorf("%w %q: known profiles: %s", ErrUnknown, name, strings.Join(known, ", "))
}

// all holds the profile constructors. Each profile is built fresh so a
// caller cannot change the table through a returned value.
var all = []func() Profile{
	awsALB, aliALB, gcpLB, cloudflare, awsNLB,
	nginxDefault, haproxyDefault, caddyDefault,
	azureAppGateway, heroku, awsAPIGateway,
}
