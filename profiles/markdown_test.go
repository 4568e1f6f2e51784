package profiles_test

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/wslab/wslab/profiles"
)

var update = flag.Bool("update", false, "rewrite docs/profiles.md from the table")

const docPath = "../docs/profiles.md"

func TestDocsMatchTheTable(t *testing.T) {
	got := profiles.Markdown()
	if *update {
		if err := os.WriteFile(docPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatalf("read %s: %v (run: go test ./profiles -run TestDocsMatchTheTable -update)", docPath, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is out of date with the table; run: go test ./profiles -run TestDocsMatchTheTable -update", docPath)
	}
}

func TestTheDocsCoverEveryProfileAndField(t *testing.T) {
	doc := string(profiles.Markdown())
	for _, p := range profiles.List() {
		if !strings.Contains(doc, "\n## "+p.Name+"\n") {
			t.Errorf("docs have no section for %s", p.Name)
		}
		for _, f := range p.Fields() {
			if !strings.Contains(doc, f.Source.URL) {
				t.Errorf("docs do not cite %s (%s.%s)", f.Source.URL, p.Name, f.Key)
			}
		}
	}
}
