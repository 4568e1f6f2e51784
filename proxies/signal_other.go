//go:build !unix

package proxies

import "os"

// sigUSR2 does not exist here; HAProxy does not run here either.
var sigUSR2 = os.Interrupt
