//go:build windows

package config

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/windows/registry"
)

// LoadRegistry reads the CSF AdminData keys of the live registry into the
// store: the user layer gets
// HKLM\Software\Cisco Systems, Inc.\Client Services Framework\AdminData and
// then the same path under HKCU (so a user's values beat the machine's); the
// policy layer gets HKCU\Software\Policies\…\AdminData and then the HKLM one
// (so machine policy beats user policy, as with Group Policy). Each key is a
// source named by its full path; a missing key is an empty source. Values
// are converted as by [ParseReg]; an unknown value name is a [Warning].
// On error the store is unchanged.
func (s *Store) LoadRegistry() ([]Warning, error) {
	type place struct {
		layer Layer
		root  registry.Key
		hive  string
		path  []string
	}
	places := []place{
		{LayerUser, registry.LOCAL_MACHINE, "HKLM", adminDataPath},
		{LayerUser, registry.CURRENT_USER, "HKCU", adminDataPath},
		{LayerPolicy, registry.CURRENT_USER, "HKCU", policyPath},
		{LayerPolicy, registry.LOCAL_MACHINE, "HKLM", policyPath},
	}
	var (
		ws []Warning
		ps []placement
	)
	for _, pl := range places {
		path := strings.Join(pl.path, `\`)
		src := NewSource(pl.hive + `\` + path)
		w, err := readRegistryKey(pl.root, path, src)
		ws = append(ws, w...)
		if err != nil {
			return ws, err
		}
		ps = append(ps, placement{pl.layer, src})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range ps {
		s.putLocked(p)
	}
	return ws, nil
}

func readRegistryKey(root registry.Key, path string, src *Source) ([]Warning, error) {
	k, err := registry.OpenKey(root, path, registry.QUERY_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, &Error{Source: src.name, Err: err}
	}
	defer k.Close()
	names, err := k.ReadValueNames(0)
	if err != nil {
		return nil, &Error{Source: src.name, Err: err}
	}
	var ws []Warning
	for _, name := range names {
		if name == "" {
			ws = append(ws, Warning{Key: "@", Source: src.name, Msg: "default value ignored"})
			continue
		}
		i, ok := byFold[strings.ToLower(name)]
		if !ok {
			ws = append(ws, Warning{Key: name, Source: src.name, Msg: "unknown key, ignored"})
			continue
		}
		v, err := readRegistryValue(k, name)
		if err != nil {
			return ws, &Error{Key: schema[i].Name, Source: src.name, Err: err}
		}
		val, err := regConvert(&schema[i], v)
		if err != nil {
			return ws, &Error{Key: schema[i].Name, Source: src.name, Err: err}
		}
		src.values[i] = entry{value: val}
	}
	return ws, nil
}

func readRegistryValue(k registry.Key, name string) (regValue, error) {
	_, typ, err := k.GetValue(name, nil)
	if err != nil {
		return regValue{}, fmt.Errorf("read value: %w", err)
	}
	v := regValue{typ: typ}
	switch typ {
	case registry.SZ, registry.EXPAND_SZ:
		s, _, err := k.GetStringValue(name)
		if err != nil {
			return v, fmt.Errorf("read value: %w", err)
		}
		if typ == registry.EXPAND_SZ {
			if s, err = registry.ExpandString(s); err != nil {
				return v, fmt.Errorf("expand value: %w", err)
			}
		}
		v.str = s
	case registry.DWORD, registry.QWORD:
		n, _, err := k.GetIntegerValue(name)
		if err != nil {
			return v, fmt.Errorf("read value: %w", err)
		}
		v.num = n
	case registry.MULTI_SZ:
		l, _, err := k.GetStringsValue(name)
		if err != nil {
			return v, fmt.Errorf("read value: %w", err)
		}
		v.list = l
	}
	return v, nil
}
