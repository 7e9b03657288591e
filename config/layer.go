package config

import (
	"fmt"
	"strconv"
)

// Layer orders sources: a value in a higher layer wins over the same key in
// a lower one. Within a layer, the source put last wins.
type Layer int

// The layers, lowest first.
const (
	LayerDefault Layer = iota // the schema defaults; no sources can be put here
	LayerServer               // provisioned files (TFTP, HTTP file server)
	LayerUser                 // user registry AdminData, config files, environment
	LayerPolicy               // Policies registry AdminData, files loaded as policy
	LayerCode                 // values set by the program itself
	numLayers
)

var layerNames = [numLayers]string{"default", "server", "user", "policy", "code"}

// String returns the lower-case name of the layer, such as "policy".
func (l Layer) String() string {
	if l >= 0 && l < numLayers {
		return layerNames[l]
	}
	return "Layer(" + strconv.Itoa(int(l)) + ")"
}

// MarshalText returns the layer's name, for JSON output.
func (l Layer) MarshalText() ([]byte, error) {
	if l < 0 || l >= numLayers {
		return nil, fmt.Errorf("config: invalid layer %d", int(l))
	}
	return []byte(layerNames[l]), nil
}

// UnmarshalText accepts a layer name as returned by String, for flags.
func (l *Layer) UnmarshalText(b []byte) error {
	for i, n := range layerNames {
		if n == string(b) {
			*l = Layer(i)
			return nil
		}
	}
	return fmt.Errorf("config: unknown layer %q (want default, server, user, policy or code)", b)
}
