package scenarios_test

import (
	"os"
	"strings"
	"testing"

	"github.com/wslab/wslab/scenarios"
)

// readmeBlocks are the README's lists generated from the scenario
// package's single sources; `go test ./scenarios -run TestTheREADME
// -update` rewrites them.
var readmeBlocks = []struct{ name, text string }{
	{"steps", scenarios.StepList()},
}

// TestTheREADMEListsWhatTheTableDefines: the README's step list is the
// step table's, line for line.
func TestTheREADMEListsWhatTheTableDefines(t *testing.T) {
	const path = "../README.md"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	for _, b := range readmeBlocks {
		begin, end := "<!-- begin "+b.name+" -->\n", "<!-- end "+b.name+" -->"
		i, j := strings.Index(readme, begin), strings.Index(readme, end)
		if i < 0 || j < i {
			t.Fatalf("README.md has no %q ... %q block", strings.TrimSpace(begin), end)
		}
		got := readme[i+len(begin) : j]
		if got == b.text {
			continue
		}
		if *update {
			readme = readme[:i+len(begin)] + b.text + readme[j:]
			continue
		}
		t.Errorf("README.md's %s list differs from the table (go test ./scenarios -run TestTheREADME -update rewrites it):\ngot:\n%s\nwant:\n%s", b.name, got, b.text)
	}
	if *update && readme != string(data) {
		if err := os.WriteFile(path, []byte(readme), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
