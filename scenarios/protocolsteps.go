// The protocol steps at run time: emitting events, sending raw frames, and
// matching what a client receives against what a step expects.

package scenarios

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/wslab/wslab/node/client"
)

// jsonText is v as compact JSON, for the transcript and for matching.
func jsonText(v any) string {
	b, err := json.Marshal(jsonable(v))
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// jsonable turns what YAML decoded (map[string]any, []any...) into what
// encoding/json takes.
func jsonable(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := map[string]any{}
		for k, e := range x {
			m[k] = jsonable(e)
		}
		return m
	case map[any]any:
		m := map[string]any{}
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonable(e)
		}
		return out
	}
	return v
}

// holds reports whether the JSON text got holds want: an object holds
// the keys given with values that hold theirs, anything else is equal
// (numbers compared as numbers).
func holds(got string, want any) bool {
	dec := json.NewDecoder(bytes.NewReader([]byte(got)))
	var g any
	if dec.Decode(&g) != nil {
		return false
	}
	var w any
	json.Unmarshal([]byte(jsonText(want)), &w) // the same number types as g
	return contains(g, w)
}

func contains(got, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range w {
			if gv, ok := g[k]; !ok || !contains(gv, v) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !contains(g[i], w[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(got, want)
}

// hexBytes decodes a checked hex field.
func hexBytes(s string) []byte {
	b, _ := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	return b
}

// quoteEvent is how the transcript shows an event received: its name and
// arguments, a frame as text or hex.
func quoteEvent(ev client.Event) string {
	switch ev.Name {
	case "text":
		return fmt.Sprintf("text %q", ev.Text)
	case "binary":
		return "binary " + hex.EncodeToString([]byte(ev.Text))
	}
	return fmt.Sprintf("%q %s", ev.Name, ev.Args)
}

// emit sends a Socket.IO event; with ack, it waits for the server's
// acknowledgement and says what it carried.
func (r *run) emit(ctx context.Context, a EmitArgs) error {
	p, err := r.openPlayer(a.Client)
	if err != nil {
		return err
	}
	args := make([]json.RawMessage, len(a.Args))
	for i, v := range a.Args {
		args[i] = json.RawMessage(jsonText(v))
	}
	shown := jsonText(a.Args)
	if a.Args == nil {
		shown = "[]"
	}
	r.say("%s emits %q %s", a.Client, a.Event, shown)
	if !a.Ack {
		before := p.c.Pending()
		if err := p.c.EmitArgs(ctx, a.Event, args...); err != nil {
			return fmt.Errorf("%s: %w", a.Client, err)
		}
		r.landed(ctx, p, before)
		return nil
	}
	actx, cancel := context.WithTimeout(ctx, settle)
	defer cancel()
	ack, err := p.c.EmitAck(actx, a.Event, args...)
	if err != nil {
		return &expectError{want: fmt.Sprintf("%s's %q is acknowledged", a.Client, a.Event), observed: err.Error()}
	}
	r.say("%s's %q is acknowledged: %s", a.Client, a.Event, jsonText(ack))
	return nil
}

// landed waits, after a client sent something, until an answer came back
// or the lab has been quiet a moment: what was sent has crossed before
// time moves.
func (r *run) landed(ctx context.Context, p *player, before int) {
	wctx, cancel := context.WithTimeout(ctx, settle)
	defer cancel()
	r.waitUntil(wctx, stepQuiet, func() (bool, string) { return p.c.Pending() > before, "" })
}

// openPlayer is a client whose connection is open.
func (r *run) openPlayer(name string) (*player, error) {
	p, err := r.player(name)
	if err != nil {
		return nil, err
	}
	if !p.open {
		return nil, fmt.Errorf("client %q is not connected", name)
	}
	return p, nil
}

// sendRaw is send for socketio and ws clients: a "message" event, or a
// frame.
func (r *run) sendRaw(ctx context.Context, p *player, a SendArgs) error {
	before := p.c.Pending()
	var err error
	switch {
	case p.protocol == protoSocketIO && a.JSON != nil:
		r.say("%s sends json %s", a.Client, jsonText(a.JSON))
		err = p.c.EmitArgs(ctx, "message", json.RawMessage(jsonText(a.JSON)))
	case p.protocol == protoSocketIO:
		r.say("%s sends %q", a.Client, a.Text)
		err = p.c.Emit(ctx, "message", a.Text)
	case a.Binary != "":
		r.say("%s sends binary %s", a.Client, hex.EncodeToString(hexBytes(a.Binary)))
		err = p.c.Send(ctx, true, hexBytes(a.Binary))
	case a.JSON != nil:
		r.say("%s sends json %s", a.Client, jsonText(a.JSON))
		err = p.c.Send(ctx, false, []byte(jsonText(a.JSON)))
	default:
		r.say("%s sends text %q", a.Client, a.Text)
		err = p.c.Send(ctx, false, []byte(a.Text))
	}
	if err != nil {
		return fmt.Errorf("%s: %w", a.Client, err)
	}
	r.landed(ctx, p, before)
	return nil
}

// messageMatch is expect_message's test of one event of a socketio or ws
// client, and how the transcript says what was expected.
func messageMatch(a ExpectMessageArgs) (func(client.Event) bool, string) {
	re := regexp.MustCompile(a.Matches) // checked when read
	// body is the message as text: a frame, or a "message" event's first
	// argument (a string as itself, anything else as JSON).
	body := func(ev client.Event) (string, bool) {
		switch ev.Name {
		case "text":
			return ev.Text, true
		case "message":
			var args []json.RawMessage
			if json.Unmarshal([]byte(ev.Args), &args) != nil || len(args) == 0 {
				return "", false
			}
			var s string
			if json.Unmarshal(args[0], &s) == nil {
				return s, true
			}
			return string(args[0]), true
		}
		return "", false
	}
	switch {
	case a.Binary != "":
		want := string(hexBytes(a.Binary))
		return func(ev client.Event) bool { return ev.Name == "binary" && ev.Text == want }, "binary " + hex.EncodeToString(hexBytes(a.Binary))
	case a.JSON != nil:
		return func(ev client.Event) bool {
			s, ok := body(ev)
			return ok && holds(s, a.JSON)
		}, "json " + jsonText(a.JSON)
	case a.Matches != "":
		return func(ev client.Event) bool {
			s, ok := body(ev)
			return ok && re.MatchString(s)
		}, fmt.Sprintf("a message matching %q", a.Matches)
	}
	return func(ev client.Event) bool {
		s, ok := body(ev)
		return ok && s == a.Text
	}, fmt.Sprintf("%q", a.Text)
}

// takeEvent waits (at once, or within window) for an event of p that
// match accepts and takes it; the others stay for later expectations.
func (r *run) takeEvent(ctx context.Context, p *player, window time.Duration, what string, match func(client.Event) bool) error {
	want := fmt.Sprintf("%s receives %s", p.name, what)
	err := r.within(ctx, window, want, func() (bool, string) {
		p.pull()
		if i := slices.IndexFunc(p.events, match); i >= 0 {
			p.events = slices.Delete(p.events, i, i+1)
			return true, ""
		}
		var seen []string
		for _, ev := range p.events[max(0, len(p.events)-5):] {
			seen = append(seen, quoteEvent(ev))
		}
		obs := "received nothing not yet expected"
		if len(seen) > 0 {
			obs = "received " + strings.Join(seen, ", ")
			if len(p.events) > 5 {
				obs = fmt.Sprintf("received %d, the last: %s", len(p.events), strings.Join(seen, ", "))
			}
		}
		if p.c != nil {
			select {
			case <-p.c.Done():
				obs += fmt.Sprintf(", then the connection closed: %v", p.c.Err())
			default:
			}
		}
		return false, obs
	})
	if err != nil {
		return err
	}
	r.say("%s", want)
	return nil
}

func (r *run) expectEmit(ctx context.Context, a ExpectEmitArgs) error {
	p, err := r.player(a.Client)
	if err != nil {
		return err
	}
	re := regexp.MustCompile(a.Matches) // checked when read
	what := fmt.Sprintf("%q", a.Event)
	switch {
	case a.Args != nil:
		what += " with " + jsonText(a.Args)
	case a.Matches != "":
		what += fmt.Sprintf(" matching %q", a.Matches)
	}
	return r.takeEvent(ctx, p, time.Duration(a.Within), what, func(ev client.Event) bool {
		return ev.Name == a.Event && (a.Args == nil || holds(ev.Args, a.Args)) && re.MatchString(ev.Args)
	})
}

// expectNoMessage lets time run for the window and fails at the first
// message that arrives meanwhile.
func (r *run) expectNoMessage(ctx context.Context, a ExpectNoMessageArgs) error {
	p, err := r.player(a.Client)
	if err != nil {
		return err
	}
	p.pull()
	before := p.arrived
	want := fmt.Sprintf("%s receives nothing for %s", a.Client, time.Duration(a.For))
	err = r.within(ctx, time.Duration(a.For), "", func() (bool, string) {
		p.pull()
		return p.arrived > before, ""
	})
	var ee *expectError
	switch {
	case errors.As(err, &ee): // nothing came: what was wanted
		r.say("%s", want)
		return nil
	case err != nil:
		return err
	}
	return &expectError{want: want, observed: fmt.Sprintf("at %s it received %s", stamp(r.now()), p.lastArrived)}
}
