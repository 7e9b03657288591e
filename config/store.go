package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// Store holds the sources of each layer and computes the effective
// configuration. It is safe for concurrent use. The zero value is not
// usable; call [NewStore].
type Store struct {
	mu     sync.Mutex           // guards layers, files and snap
	layers [numLayers][]*Source // LayerDefault stays empty: defaults come from the schema
	files  []loadedFile         // files loaded by LoadFile, in load order, for Watch
	snap   *Snapshot            // cached Effective result; nil after a change
}

type loadedFile struct {
	path string // as given to LoadFile
	abs  string // cleaned absolute path, to match file system events
	opts LoadOptions
}

// placement is a source destined for a layer.
type placement struct {
	layer Layer
	src   *Source
}

// NewStore returns a store holding only the schema defaults.
func NewStore() *Store { return &Store{} }

// Put adds src to layer, or replaces the source of the same name already
// in that layer, keeping its position (so reloading a file does not change
// which source wins). The source is copied. Putting into [LayerDefault] or
// an unknown layer returns an error.
func (s *Store) Put(layer Layer, src *Source) error {
	if layer <= LayerDefault || layer >= numLayers {
		return fmt.Errorf("config: cannot put source %q in layer %v", src.name, layer)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putLocked(placement{layer, src.clone()})
	return nil
}

func (s *Store) putLocked(p placement) {
	srcs := s.layers[p.layer]
	i := slices.IndexFunc(srcs, func(o *Source) bool { return o.name == p.src.name })
	if i >= 0 {
		srcs[i] = p.src
	} else {
		s.layers[p.layer] = append(srcs, p.src)
	}
	s.snap = nil
}

// Remove removes the source called name from layer and reports whether
// there was one.
func (s *Store) Remove(layer Layer, name string) bool {
	if layer < 0 || layer >= numLayers {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	srcs := s.layers[layer]
	i := slices.IndexFunc(srcs, func(o *Source) bool { return o.name == name })
	if i < 0 {
		return false
	}
	s.layers[layer] = slices.Delete(srcs, i, i+1)
	s.snap = nil
	return true
}

// Set sets key in the code layer, in a source called "code", which wins over
// every file, the registry and the environment. The value is as for
// [Source.Set]; errors are [*Error] wrapping [ErrUnknownKey] or
// [ErrBadValue], and leave the store unchanged.
func (s *Store) Set(key string, value any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var code *Source
	if i := slices.IndexFunc(s.layers[LayerCode], func(o *Source) bool { return o.name == "code" }); i >= 0 {
		code = s.layers[LayerCode][i].clone()
	} else {
		code = NewSource("code")
	}
	if err := code.Set(key, value); err != nil {
		return err
	}
	s.putLocked(placement{LayerCode, code})
	return nil
}

// LoadOptions says how [Store.LoadFile] places a file. A nil *LoadOptions
// means the zero value.
type LoadOptions struct {
	// Layer is the layer of a YAML file; zero (LayerDefault) means
	// LayerUser. It is ignored for .reg files, whose registry key paths
	// choose the layer.
	Layer Layer

	// Profile names an entry under "Users:" in a YAML file whose values
	// are put after the file's own, in the same layer; empty means none.
	// A missing profile is an error wrapping ErrNoProfile.
	Profile string

	// Reg reads the file as a regedit export whatever its name; a name
	// ending in ".reg" (any case) always is one.
	Reg bool
}

// LoadFile reads a configuration file and puts its sources into the store.
// A name ending in ".reg" (any case), or any file with [LoadOptions.Reg], is
// a regedit export (see [ParseReg]); its values go to the user and policy
// layers by key path. Anything else is a YAML file (see [ParseYAML]).
//
// The file is parsed and validated completely before anything changes: on
// error LoadFile returns an [*Error] naming the file and line, and the
// store's previous configuration stays in force. Loading the same path
// again replaces its sources in place. Warnings (unknown keys and the like)
// are returned on success and on error.
func (s *Store) LoadFile(path string, opts *LoadOptions) ([]Warning, error) {
	var o LoadOptions
	if opts != nil {
		o = *opts
	}
	if o.Layer == LayerDefault {
		o.Layer = LayerUser
	}
	if o.Layer < LayerServer || o.Layer >= numLayers {
		return nil, &Error{Source: path, Err: fmt.Errorf("invalid layer %v", o.Layer)}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, &Error{Source: path, Err: err}
	}
	ws, ps, err := readFile(path, o)
	if err != nil {
		return ws, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range ps {
		s.putLocked(p)
	}
	f := loadedFile{path: path, abs: abs, opts: o}
	if i := slices.IndexFunc(s.files, func(l loadedFile) bool { return l.abs == abs }); i >= 0 {
		s.files[i] = f
	} else {
		s.files = append(s.files, f)
	}
	return ws, nil
}

// readFile reads and parses one file into the sources to put.
func readFile(path string, o LoadOptions) ([]Warning, []placement, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, &Error{Source: path, Err: err}
	}
	if o.Reg || strings.EqualFold(filepath.Ext(path), ".reg") {
		user, policy, ws, err := ParseReg(path, data)
		if err != nil {
			return ws, nil, err
		}
		return ws, []placement{{LayerUser, user}, {LayerPolicy, policy}}, nil
	}
	src, ws, err := ParseYAML(path, data)
	if err != nil {
		return ws, nil, err
	}
	ps := []placement{{o.Layer, src}}
	if o.Profile != "" {
		p, ok := src.Profile(o.Profile)
		if !ok {
			return ws, nil, &Error{Source: path, Err: &problem{kind: ErrNoProfile,
				msg: fmt.Sprintf("no profile %q under Users", o.Profile)}}
		}
		ps = append(ps, placement{o.Layer, p})
	}
	return ws, ps, nil
}

// LoadEnv puts the OPENCSF_ variables of environ (as from [os.Environ])
// into the user layer as a source called "env" (see [ParseEnv]). On error
// the store is unchanged.
func (s *Store) LoadEnv(environ []string) ([]Warning, error) {
	src, ws, err := ParseEnv(environ)
	if err != nil {
		return ws, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putLocked(placement{LayerUser, src})
	return ws, nil
}

// Effective returns the effective configuration: for every key, the value
// of the highest layer that sets it. The snapshot is immutable and stays
// valid after the store changes.
func (s *Store) Effective() *Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapLocked()
}

func (s *Store) snapLocked() *Snapshot {
	if s.snap == nil {
		s.snap = resolve(&s.layers)
	}
	return s.snap
}
