//go:build !unix

package balancer

const canPeek = false

func peekHangUp(uintptr) (gone, again bool) { return false, false }
