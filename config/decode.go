package config

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Decode copies values of s into the struct v points to, field by field as
// named by `config:"KeyName"` tags (any case), so that each service can
// own its Config type:
//
//	type Config struct {
//		Registrar string          `config:"SipRegistrar"`
//		Password  config.Secret   `config:"SipPassword"`
//		Poll      time.Duration   `config:"ProvisionPollInterval"`
//		Account   struct{ User string `config:"UserName"` }
//	}
//
// Untagged struct fields are decoded recursively; other untagged fields and
// fields tagged "-" are left alone. A field's type must fit its key: string
// for string, hostport, url, path and enum keys; [Secret] for secret keys
// (and may take any key); bool, any int type, time.Duration or []string for
// bool, int, duration and list keys. A tag naming an unknown key or a field
// of the wrong type is an error.
func (s *Snapshot) Decode(v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("config: decode: want a pointer to a struct, got %T", v)
	}
	return s.decodeStruct(rv.Elem(), false)
}

// DecodeSet is Decode for keys set by some source: fields whose key is at
// its schema default are left alone, so that a Config filled in by code
// keeps its values unless configuration says otherwise.
func (s *Snapshot) DecodeSet(v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("config: decode: want a pointer to a struct, got %T", v)
	}
	return s.decodeStruct(rv.Elem(), true)
}

var (
	secretType   = reflect.TypeFor[Secret]()
	durationType = reflect.TypeFor[time.Duration]()
)

func (s *Snapshot) decodeStruct(rv reflect.Value, onlySet bool) error {
	rt := rv.Type()
	for i := range rt.NumField() {
		f := rt.Field(i)
		if !f.IsExported() {
			continue
		}
		tag, tagged := f.Tag.Lookup("config")
		if !tagged {
			if f.Type.Kind() == reflect.Struct && f.Type != secretType {
				if err := s.decodeStruct(rv.Field(i), onlySet); err != nil {
					return err
				}
			}
			continue
		}
		if tag == "-" {
			continue
		}
		idx, ok := byFold[strings.ToLower(tag)]
		if !ok {
			return fmt.Errorf("config: decode field %s: %w: %s", f.Name, ErrUnknownKey, tag)
		}
		if onlySet && s.values()[idx].origins[0].Layer == LayerDefault {
			continue
		}
		if err := setField(rv.Field(i), &schema[idx], s.values()[idx].value); err != nil {
			return fmt.Errorf("config: decode field %s: key %s: %w", f.Name, schema[idx].Name, err)
		}
	}
	return nil
}

func setField(fv reflect.Value, k *Key, val any) error {
	ft := fv.Type()
	switch {
	case ft == secretType:
		fv.SetString(format(val))
		return nil
	case ft == durationType:
		if d, ok := val.(time.Duration); ok {
			fv.SetInt(int64(d))
			return nil
		}
	case ft.Kind() == reflect.String:
		if s, ok := val.(string); ok {
			fv.SetString(s)
			return nil
		}
	case ft.Kind() == reflect.Bool:
		if b, ok := val.(bool); ok {
			fv.SetBool(b)
			return nil
		}
	case fv.CanInt():
		if n, ok := val.(int); ok {
			if fv.OverflowInt(int64(n)) {
				return fmt.Errorf("%d overflows %v", n, ft)
			}
			fv.SetInt(int64(n))
			return nil
		}
	case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.String:
		if l, ok := val.([]string); ok {
			out := reflect.MakeSlice(ft, len(l), len(l))
			for i, it := range l {
				out.Index(i).SetString(it)
			}
			fv.Set(out)
			return nil
		}
	}
	return fmt.Errorf("a field of type %v cannot hold a %v value", ft, k.Type)
}
