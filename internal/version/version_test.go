package version_test

import (
	"runtime/debug"
	"testing"

	"github.com/wslab/wslab/internal/version"
)

func TestDescribeNamesTheVersionAndTheRevision(t *testing.T) {
	settings := func(kv ...string) []debug.BuildSetting {
		var out []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			out = append(out, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return out
	}
	main := debug.Module{Path: "github.com/wslab/wslab", Version: "v1.2.0"}
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"a tagged release from go install", &debug.BuildInfo{GoVersion: "go1.26.8", Main: main, Settings: settings("GOOS", "linux", "GOARCH", "amd64")},
			"lab v1.2.0 (module github.com/wslab/wslab)\nrevision unknown: built without VCS information (go build -buildvcs=true in a git clone records it)\ngo1.26.8 linux/amd64\n"},
		{"a build in a clone with changes", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: main.Path, Version: "v0.0.0-20261129034000-3291a81abcde+dirty"},
			Settings: settings("GOOS", "linux", "GOARCH", "arm64", "vcs", "git", "vcs.revision", "3291a81abcdef0123456789abcdef0123456789a", "vcs.time", "2026-11-29T03:40:00Z", "vcs.modified", "true")},
			"lab v0.0.0-20261129034000-3291a81abcde+dirty (module github.com/wslab/wslab)\nrevision 3291a81abcdef0123456789abcdef0123456789a (2026-11-29T03:40:00Z), with local changes\ngo1.26.8 linux/arm64\n"},
		{"a clean build", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: main.Path},
			Settings: settings("GOOS", "linux", "GOARCH", "amd64", "vcs.revision", "3291a81", "vcs.modified", "false")},
			"lab (devel) (module github.com/wslab/wslab)\nrevision 3291a81\ngo1.26.8 linux/amd64\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := version.Describe("lab", tt.bi); got != tt.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}
