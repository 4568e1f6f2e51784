package node

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// usernameProblem says what is wrong with a requested username, or "" if it
// may be set. A name is shown to everybody in front of every line its user
// writes, so one that shows as nothing, breaks a line, or reorders the text
// around it (the "Trojan Source" trick) is refused rather than cleaned up.
func usernameProblem(name string, max int) string {
	if name == "" {
		return "it is empty."
	}
	if l := utf8.RuneCountInString(name); l > max {
		return fmt.Sprintf("it is %d characters long, the limit is %d.", l, max)
	}
	if strings.TrimFunc(name, unicode.IsSpace) == "" {
		return "it is only spaces."
	}
	pos := 0
	for _, r := range name {
		pos++
		switch {
		case unicode.IsControl(r):
			return fmt.Sprintf("it contains the control character %U at position %d; use letters, digits, punctuation and spaces.", r, pos)
		case isBidiControl(r):
			return fmt.Sprintf("it contains the bidirectional control %U, which reorders how the text around it is shown; use letters, digits, punctuation and spaces.", r)
		}
	}
	return ""
}

// isBidiControl reports the explicit embedding, override and isolate
// controls of the Unicode bidirectional algorithm (UAX #9): LRE, RLE, PDF,
// LRO, RLO and LRI, RLI, FSI, PDI.
func isBidiControl(r rune) bool {
	return (r >= '\u202A' && r <= '\u202E') || (r >= '\u2066' && r <= '\u2069')
}
