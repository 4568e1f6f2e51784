package load

import "testing"

// The example handshake of RFC 6455, section 1.3.
func TestAcceptKeyMatchesRFC6455(t *testing.T) {
	if got, want := acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}
