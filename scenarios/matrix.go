package scenarios

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/wslab/wslab/lab"
	"github.com/wslab/wslab/proxies"
)

// RealtimeSuffix names a built-in's real-time variant: idle-timeout's is
// idle-timeout-realtime, the same story told in seconds of real time with
// only what its clients (and the lab's own nodes) can observe, so that it
// means the same behind any front door.
const RealtimeSuffix = "-realtime"

// notApplicable is why a built-in has no row to run in the matrix: it is
// about the built-in balancer itself, which no proxy has.
var notApplicable = map[string]string{
	"bad-reload": "it checks the built-in balancer's own config validation; the lab refuses that YAML before any proxy sees it",
}

// MatrixRow is one built-in scenario in the matrix: the scenario it runs
// (the built-in itself, or its real-time variant), or why none.
type MatrixRow struct {
	Builtin       string `json:"builtin"`
	Runs          string `json:"runs,omitempty"`
	NotApplicable string `json:"not_applicable,omitempty"`
	sc            *Scenario
}

// MatrixRows lists the built-ins, each with what the matrix runs for it:
// its -realtime variant if it has one, else itself (it then waits only
// seconds and expects only what a client sees), unless it cannot mean
// anything behind a proxy.
func MatrixRows() ([]MatrixRow, error) {
	all, err := Builtins()
	if err != nil {
		return nil, err
	}
	byName := map[string]*Scenario{}
	for _, sc := range all {
		byName[sc.Name] = sc
	}
	var rows []MatrixRow
	for _, sc := range all {
		if strings.HasSuffix(sc.Name, RealtimeSuffix) {
			continue
		}
		row := MatrixRow{Builtin: sc.Name, sc: sc}
		if v, ok := byName[sc.Name+RealtimeSuffix]; ok {
			row.sc = v
		}
		if why, ok := notApplicable[sc.Name]; ok {
			row.NotApplicable, row.sc = why, nil
		} else {
			row.Runs = row.sc.Name
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// Scenario is what the row runs; nil when it is not applicable.
func (r MatrixRow) Scenario() *Scenario { return r.sc }

// BalancerColumns are the matrix's columns by default: the built-in
// balancer, then each proxy.
func BalancerColumns() []string {
	out := []string{lab.BuiltinBalancer}
	for _, k := range proxies.Kinds() {
		out = append(out, string(k))
	}
	return out
}

// MatrixColumn is one balancer of the matrix.
type MatrixColumn struct {
	Balancer string        `json:"balancer"`
	Version  string        `json:"version,omitempty"` // as its binary prints it; "" for wslab
	Missing  string        `json:"missing,omitempty"` // why it did not run: not installed
	Elapsed  time.Duration `json:"elapsed_ns"`        // wall time of its runs
}

// Title is the column's heading: its name and version.
func (c MatrixColumn) Title() string {
	if c.Version == "" {
		return c.Balancer
	}
	return c.Balancer + " " + c.Version
}

// Cell is what one scenario did against one balancer.
type Cell struct {
	Passed bool   `json:"passed"`
	Broken bool   `json:"broken,omitempty"` // the run erred: the lab did not start or could not be driven
	Text   string `json:"text"`
}

// Matrix is the built-ins run against each balancer.
type Matrix struct {
	Columns []MatrixColumn `json:"columns"`
	Rows    []MatrixRow    `json:"rows"`
	Cells   [][]Cell       `json:"cells"` // [row][column]; nil for a row that is not applicable
}

// MatrixOptions tune RunMatrix.
type MatrixOptions struct {
	Balancers []string          // the columns; default BalancerColumns
	Only      []string          // run only these built-ins' rows; default all
	Progress  func(line string) // called as each run starts and ends
	Verbose   func(line string) // called with each transcript line as it happens (Options.Verbose)
}

// RunMatrix runs every row against every balancer installed here, on the
// real clock (the built-in balancer too, so that it is held to the same
// time), one run at a time. It returns ctx's error, with what ran so
// far, when ctx ends.
func RunMatrix(ctx context.Context, opts MatrixOptions) (*Matrix, error) {
	rows, err := MatrixRows()
	if err != nil {
		return nil, err
	}
	if len(opts.Only) > 0 {
		rows = slices.DeleteFunc(rows, func(r MatrixRow) bool { return !slices.Contains(opts.Only, r.Builtin) })
	}
	progress := opts.Progress
	if progress == nil {
		progress = func(string) {}
	}
	m := &Matrix{Rows: rows, Cells: make([][]Cell, len(rows))}
	for _, b := range cmpOr(opts.Balancers, BalancerColumns()) {
		m.Columns = append(m.Columns, column(ctx, b))
	}
	total, done := 0, 0
	running := 0
	for _, c := range m.Columns {
		if c.Missing == "" {
			running++
		}
	}
	for i, r := range rows {
		if r.sc != nil {
			total += running
			m.Cells[i] = make([]Cell, len(m.Columns))
		}
	}
	for j := range m.Columns {
		col := &m.Columns[j]
		if col.Missing != "" {
			progress(fmt.Sprintf("%s: %s", col.Balancer, col.Missing))
			continue
		}
		for i, r := range rows {
			if r.sc == nil {
				continue
			}
			if err := ctx.Err(); err != nil {
				return m, err
			}
			done++
			progress(fmt.Sprintf("[%d/%d] %s against %s", done, total, r.sc.Name, col.Balancer))
			opts := Options{Balancer: col.Balancer, RealClock: true, Verbose: opts.Verbose}
			if col.Balancer == lab.BuiltinBalancer {
				opts.Balancer = ""
			}
			res := Run(ctx, r.sc, opts)
			col.Elapsed += res.Wall
			if err := ctx.Err(); err != nil {
				return m, err
			}
			m.Cells[i][j] = MatrixCell(res)
			progress(fmt.Sprintf("[%d/%d] %s against %s: %s (%.1fs)", done, total, r.sc.Name, col.Balancer, m.Cells[i][j].Text, res.Wall.Seconds()))
		}
	}
	return m, nil
}

func cmpOr(a, b []string) []string {
	if len(a) > 0 {
		return a
	}
	return b
}

// column is a balancer's column before anything runs: its version, or
// why it cannot run here.
func column(ctx context.Context, b string) MatrixColumn {
	c := MatrixColumn{Balancer: b}
	if b == lab.BuiltinBalancer {
		return c
	}
	kind, err := proxies.ParseKind(b)
	if err != nil {
		c.Missing = err.Error()
		return c
	}
	bin, err := proxies.Binary(kind)
	if err != nil {
		c.Missing = "not installed"
		return c
	}
	v, err := proxies.Version(ctx, kind, bin)
	if err != nil {
		c.Missing = "its version: " + err.Error()
	}
	c.Version = v
	return c
}

// Broken reports whether some run erred (as opposed to a balancer that
// behaves differently, which is the matrix's content).
func (m *Matrix) Broken() bool {
	for _, row := range m.Cells {
		for _, c := range row {
			if c.Broken {
				return true
			}
		}
	}
	return false
}

// MatrixCell says in one short line what a run did: pass, or the first
// expectation that did not hold and what was observed instead, in words
// that stay the same from run to run (outcomes, not times; no ports).
func MatrixCell(res Result) Cell {
	f := res.Failure
	switch {
	case res.Passed:
		return Cell{Passed: true, Text: "pass"}
	case f == nil:
		return Cell{Broken: true, Text: "error: no outcome"}
	case f.Kind == "lab":
		return Cell{Broken: true, Text: "error: " + steady(f.Message)}
	}
	var text string
	if f.Observed != "" {
		// The last events of a kind, in the order they came (nodes
		// race): the first in sorted order says it the same every run.
		seen := strings.Split(f.Observed, " | ")
		slices.Sort(seen)
		observed := seen[0]
		if len(seen) > 1 {
			observed += " …"
		}
		text = fmt.Sprintf("%s: want %s, saw %s", f.Kind, f.Message, observed)
	} else {
		text = f.Kind + ": " + f.Message
	}
	if f.Reload != "" {
		text = "reload refused (" + cannotRunRE.ReplaceAllString(firstClauses(f.Reload), "") + "), then " + text
	}
	return Cell{Text: steady(text)}
}

// firstClauses keeps an error up to its first "; " (the fix that follows
// is for a person at a prompt, not a table).
func firstClauses(s string) string {
	if i := strings.Index(s, "; "); i >= 0 {
		return s[:i]
	}
	return s
}

var (
	cannotRunRE = regexp.MustCompile(`^\w+ cannot run this config: `) // the refusal names the proxy again
	stampRE     = regexp.MustCompile(` at \+\d+\.\d+s\b`)
	urlRE       = regexp.MustCompile(`(?:dial |Get |POST |GET )?"?(?:https?|wss?)://\S+?"?:? `)
	addrRE      = regexp.MustCompile(`(?:read |write )?tcp 127\.0\.0\.1:\d+->127\.0\.0\.1:\d+: `)
	sidRE       = regexp.MustCompile(`sid=[\w-]+`)
	repeatsRE   = regexp.MustCompile(`failed to WebSocket dial: failed to send handshake request: `)
)

// steady words a cell so that a rerun says the same: no time since the
// start (a close "at +0.348s" is "at +0.512s" the next run, and the step
// already says when), no addresses or session ids.
func steady(s string) string {
	s = stampRE.ReplaceAllString(s, "")
	s = urlRE.ReplaceAllString(s, "")
	s = addrRE.ReplaceAllString(s, "")
	s = sidRE.ReplaceAllString(s, "sid=…")
	s = repeatsRE.ReplaceAllString(s, "")
	return s
}

// WriteText prints the matrix as a table for a terminal: one block per
// row, a line per balancer.
func (m *Matrix) WriteText(w io.Writer) {
	width := 0
	for _, c := range m.Columns {
		width = max(width, len(c.Title()))
	}
	for i, r := range m.Rows {
		name := r.Builtin
		if r.Runs != "" && r.Runs != r.Builtin {
			name += " (as " + r.Runs + ")"
		}
		fmt.Fprintln(w, name)
		if r.NotApplicable != "" {
			fmt.Fprintf(w, "  %-*s  not applicable: %s\n", width, "all", r.NotApplicable)
			continue
		}
		for j, c := range m.Columns {
			text := c.Missing
			if text == "" {
				text = m.Cells[i][j].Text
			}
			fmt.Fprintf(w, "  %-*s  %s\n", width, c.Title(), text)
		}
	}
}

// WriteMarkdown prints the matrix as the README's table: versions, the
// command that made it, a row per built-in.
func (m *Matrix) WriteMarkdown(w io.Writer, command string) {
	var titles []string
	for _, c := range m.Columns {
		titles = append(titles, c.Title())
	}
	fmt.Fprintf(w, "Made by `%s` on the real clock (balancers: %s).\n\n", command, strings.Join(titles, ", "))
	fmt.Fprintf(w, "| scenario | %s |\n|---|%s\n", strings.Join(titles, " | "), strings.Repeat("---|", len(titles)))
	for i, r := range m.Rows {
		name := "`" + r.Builtin + "`"
		if r.Runs != "" && r.Runs != r.Builtin {
			name += " (as `" + r.Runs + "`)"
		}
		var cells []string
		for j, c := range m.Columns {
			switch {
			case r.NotApplicable != "" && j == 0:
				cells = append(cells, "not applicable: "+r.NotApplicable)
			case r.NotApplicable != "":
				cells = append(cells, "")
			case c.Missing != "":
				cells = append(cells, c.Missing)
			default:
				cells = append(cells, m.Cells[i][j].Text)
			}
		}
		for k := range cells {
			cells[k] = strings.ReplaceAll(cells[k], "|", `\|`)
		}
		fmt.Fprintf(w, "| %s | %s |\n", name, strings.Join(cells, " | "))
	}
}
