// Package version describes the running binary from its build
// information: the module's version and the VCS revision it was built
// from, as the go command records them.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Describe is what lab version prints: the module version and path, the
// revision with its time and whether the tree had local changes, and the
// Go toolchain. A nil bi (no build information) says so.
func Describe(name string, bi *debug.BuildInfo) string {
	var b strings.Builder
	if bi == nil {
		fmt.Fprintf(&b, "%s: no build information in this binary\n", name)
		fmt.Fprintf(&b, "%s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return b.String()
	}
	fmt.Fprintf(&b, "%s %s (module %s)\n", name, or(bi.Main.Version, "(devel)"), bi.Main.Path)
	set := map[string]string{}
	for _, s := range bi.Settings {
		set[s.Key] = s.Value
	}
	if rev := set["vcs.revision"]; rev != "" {
		fmt.Fprintf(&b, "revision %s", rev)
		if t := set["vcs.time"]; t != "" {
			fmt.Fprintf(&b, " (%s)", t)
		}
		if set["vcs.modified"] == "true" {
			b.WriteString(", with local changes")
		}
		b.WriteString("\n")
	} else {
		b.WriteString("revision unknown: built without VCS information (go build -buildvcs=true in a git clone records it)\n")
	}
	fmt.Fprintf(&b, "%s %s/%s\n", or(bi.GoVersion, runtime.Version()), or(set["GOOS"], runtime.GOOS), or(set["GOARCH"], runtime.GOARCH))
	return b.String()
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
