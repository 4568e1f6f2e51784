package main

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/wslab/wslab/balancer"
)

// explain turns start-up errors into one line that says what to do.
func explain(err error, flagOf map[string]string) error {
	msg := balancer.OneLine(err)
	if errors.Is(err, syscall.EADDRINUSE) {
		for prefix, flag := range flagOf {
			if strings.Contains(msg, prefix) {
				return usageError(fmt.Errorf("%s: the address is already in use; stop what holds it or choose another with %s", firstClause(msg), flag))
			}
		}
		return usageError(fmt.Errorf("%s: the address is already in use", firstClause(msg)))
	}
	return usageError(errors.New(msg))
}

// firstClause keeps "what: where" of a wrapped error, dropping the repeats
// that follow.
func firstClause(msg string) string {
	if i := strings.Index(msg, ": listen tcp"); i >= 0 {
		return msg[:i]
	}
	return msg
}

func oneLine(err error) string { return balancer.OneLine(err) }
