package balancer

import (
	"reflect"

	"go.yaml.in/yaml/v3"
)

// compose is the one precedence rule, at start and at every reload: the
// settings a user gave on the command line (Options.Overrides) win over the
// document (a file, PUT /api/config), which wins over the embedder's
// defaults (Options.Defaults: lab up's health path, its nodes), which win
// over the named profile's (the document's profile:, or one the flags or
// the defaults name; see ProfileConfig), which win over the balancer's
// own. A document without servers keeps the running
// ones; only at start, with none running, do the defaults' servers count.
// Callers hold b.mu (or are Start).
func (b *Balancer) compose(doc Config, running []ServerConfig) Config {
	name := layer(b.overrides, layer(doc, b.defaults)).Profile
	cfg := layer(doc, layer(b.defaults, profileLayer(name)))
	if doc.ServerGroup.Servers == nil && running != nil {
		cfg.ServerGroup.Servers = running
	}
	return layer(b.overrides, cfg)
}

// layer returns under with every field that over sets put on top. A field
// is set when it is not its zero value; structs merge field by field,
// anything else (a pointer, a list) is taken whole.
func layer(over, under Config) Config {
	out := under
	mergeStruct(reflect.ValueOf(&out).Elem(), reflect.ValueOf(over))
	return out
}

func mergeStruct(dst, src reflect.Value) {
	for i := range src.NumField() {
		s, d := src.Field(i), dst.Field(i)
		switch {
		case s.Kind() == reflect.Struct:
			mergeStruct(d, s)
		case !s.IsZero():
			d.Set(s)
		}
	}
}

// mergeNodes applies a YAML merge patch (RFC 7386 on YAML): mappings merge
// key by key, anything else replaces what stood there.
func mergeNodes(base, patch *yaml.Node) *yaml.Node {
	if base == nil || base.Kind != yaml.MappingNode || patch.Kind != yaml.MappingNode {
		return patch
	}
	out := *base
	out.Content = append([]*yaml.Node(nil), base.Content...)
next:
	for i := 0; i+1 < len(patch.Content); i += 2 {
		k, v := patch.Content[i], patch.Content[i+1]
		for j := 0; j+1 < len(out.Content); j += 2 {
			if out.Content[j].Value == k.Value {
				out.Content[j+1] = mergeNodes(out.Content[j+1], v)
				continue next
			}
		}
		out.Content = append(out.Content, k, v)
	}
	return &out
}
