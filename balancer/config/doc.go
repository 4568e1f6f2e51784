// Package config is the balancer's configuration: the document's types
// and their defaults (config.go), parsing YAML or JSON with the line of
// every field (parse.go), validation that reports every problem at once,
// each naming its field, line and value (validate.go, profile.go for a
// profile's ranges), the precedence of flags, document, embedder's
// defaults and profile (layers.go), the settings only a restart changes
// (reload.go), and the file watcher that hot-reloads a balancer (watch.go).
//
// The balancer receives a Config, composes it with Compose, validates it
// with Validate and runs the result of WithDefaults as an immutable
// snapshot; nothing here holds running state.
//
// # Concurrency
//
// Everything but Watch is pure: values in, values out. A Watch's Run
// owns its fsnotify watcher and returns when its ctx ends, having closed it.
package config
