package scenarios

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
)

// Summary is the one line of a result: verdict, name, seed, virtual (or,
// on the real clock, scenario) and wall time.
func (r Result) Summary() string {
	verdict := "PASS"
	if !r.Passed {
		verdict = "FAIL"
	}
	profile := ""
	if r.Profile != "" {
		profile = "  profile " + r.Profile
	}
	clock := "virtual"
	if r.Clock.Real {
		clock = "real clock" // Virtual is wall time since the lab was up
	}
	return fmt.Sprintf("%s %-22s seed %d  %d steps  %s %s  wall %s%s", verdict, r.Name, r.Seed, r.Steps,
		clock, r.Virtual.Round(time.Millisecond), r.Wall.Round(time.Millisecond), profile)
}

// Totals is the closing line: "N passed, N failed".
func Totals(rs []Result) string {
	pass := 0
	for _, r := range rs {
		if r.Passed {
			pass++
		}
	}
	return fmt.Sprintf("%d passed, %d failed", pass, len(rs)-pass)
}

type junitSuite struct {
	XMLName  xml.Name    `xml:"testsuite"`
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Body    string `xml:",chardata"`
}

// WriteJUnit writes results as a JUnit XML test suite for CI systems.
func WriteJUnit(w io.Writer, rs []Result) error {
	s := junitSuite{Name: "wslab scenarios", Tests: len(rs)}
	var total time.Duration
	for _, r := range rs {
		total += r.Wall
		c := junitCase{Name: r.Name, Classname: "wslab.scenarios", Time: secs(r.Wall), SystemOut: strings.Join(r.Transcript, "\n")}
		if !r.Passed {
			s.Failures++
			c.Failure = &junitFailure{Message: r.Failure.String(), Body: strings.Join(r.Transcript, "\n")}
		}
		s.Cases = append(s.Cases, c)
	}
	s.Time = secs(total)
	io.WriteString(w, xml.Header)
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(s); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func secs(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }
