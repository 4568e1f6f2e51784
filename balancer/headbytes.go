package balancer

import "bytes"

// Reading HTTP heads as bytes, without net/http: what the front doors and
// the handshake core need to find a head's end and compare its names.

// headEnd looks for the blank line that ends an HTTP head in buf, where
// buf[:from] was searched before. It returns where the head ends (0 if it
// has not yet) and whether a line ends in a bare LF, which is refused.
func headEnd(buf []byte, from int) (end int, bareLF bool) {
	for i := from; ; {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			return 0, false
		}
		i += j
		if i == 0 || buf[i-1] != '\r' {
			return 0, true
		}
		if i >= 3 && buf[i-2] == '\n' && buf[i-3] == '\r' {
			return i + 1, false
		}
		i++
	}
}

var crlf = []byte("\r\n")

// tokenChars are the bytes allowed in a header name (RFC 9110 tchar).
var tokenChars = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func isToken(b []byte) bool {
	for _, c := range b {
		if !tokenChars[c] {
			return false
		}
	}
	return len(b) > 0
}

// asciiEqualFold compares b to the lower-case ASCII s, ignoring case.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// hasToken reports whether the comma-separated list v has token.
func hasToken(v []byte, token string) bool {
	for len(v) > 0 {
		var f []byte
		f, v, _ = bytes.Cut(v, []byte(","))
		if asciiEqualFold(bytes.Trim(f, " \t"), token) {
			return true
		}
	}
	return false
}
