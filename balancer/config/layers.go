package config

import (
	"fmt"
	"reflect"

	"go.yaml.in/yaml/v3"
)

// Compose is the one precedence rule, at start and at every reload: the
// settings a user gave on the command line (overrides) win over the
// document (a file, PUT /api/config), which wins over the embedder's
// defaults (lab up's health path, its nodes), which win over the named
// profile's (the document's profile:, or one the overrides or the
// defaults name; see FromProfile), which win over the balancer's own
// (WithDefaults). A document without servers keeps running, the servers
// that run now; only at start, with none running (nil), do the defaults'
// servers count. The result is neither defaulted nor validated.
func Compose(overrides, doc, defaults Config, running []Server) Config {
	name := layer(overrides, layer(doc, defaults)).Profile
	cfg := layer(doc, layer(defaults, profileLayer(name)))
	if doc.ServerGroup.Servers == nil && running != nil {
		cfg.ServerGroup.Servers = running
	}
	return layer(overrides, cfg)
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

// Merge merges a partial YAML (or JSON) document into base (a merge
// patch: mappings merge key by key, anything else — a list of servers, a
// value — replaces what stood there). It returns the merged document and
// the lines of the patch's fields, for the problems Validate finds in it.
func Merge(base Config, patch []byte) (Config, Lines, error) {
	_, ls, err := parseConfig(patch)
	if err != nil {
		return Config{}, nil, err
	}
	var p, b yaml.Node
	yaml.Unmarshal(patch, &p) // parsed above
	if err := b.Encode(base); err != nil {
		return Config{}, nil, fmt.Errorf("encode the running document: %w", err)
	}
	var doc Config
	if err := mergeNodes(&b, p.Content[0]).Decode(&doc); err != nil {
		return Config{}, nil, err
	}
	return doc, ls, nil
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
