package faultlink

import (
	"fmt"
	"strconv"
	"strings"
)

var byteUnits = []struct {
	name string
	n    int64
}{
	{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"kB", 1e3}, {"B", 1},
}

// ParseBytes reads a byte count with an optional unit: "262144",
// "256KiB", "1.5MB"; a trailing "/s" is allowed, so a bandwidth reads as
// people write it ("256KiB/s").
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSuffix(strings.TrimSpace(s), "/s")
	mult := int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(t, u.name) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.name)), u.n
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || v*float64(mult) > 1<<53 {
		return 0, fmt.Errorf("%q is not a byte count; write e.g. 262144, 256KiB or 1MB", s)
	}
	return int64(v * float64(mult)), nil
}

// FormatBytes writes n with the largest binary unit that divides it
// evenly: 262144 is "256KiB", 1000 is "1000B".
func FormatBytes(n int64) string {
	for _, u := range byteUnits[:3] {
		if n >= u.n && n%u.n == 0 {
			return fmt.Sprintf("%d%s", n/u.n, u.name)
		}
	}
	return fmt.Sprintf("%dB", n)
}
