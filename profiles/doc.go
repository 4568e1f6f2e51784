// Package profiles describes how real load balancers treat a long-lived
// WebSocket connection: idle timeout and what resets it, a lifetime cap,
// what the client sees when it is cut, health-check defaults, draining,
// fail-open, stickiness, header limits and target types that refuse an
// upgrade.
//
// Every value carries its Source: the page it comes from, the date it was
// read and whether it is documented by the vendor, observed here against the
// real proxy, or assumed because the vendor does not say. docs/profiles.md is
// generated from this table by the package's tests, so the two cannot drift.
//
// The package is data and pure logic: no I/O, no clock, no goroutines.
// Values a user sets always win over a profile's; the balancer applies a
// profile only to the fields the user left unset.
package profiles
