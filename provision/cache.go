package provision

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// DefaultCacheDir returns opencsf/provision under the user's cache
// directory (os.UserCacheDir).
func DefaultCacheDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "opencsf", "provision"), nil
}

// cacheIndex is the name of the file holding what was cached and when.
const cacheIndex = "index.json"

// CacheEntry describes one file saved in the cache.
type CacheEntry struct {
	Source       string    `json:"source"`
	Size         int64     `json:"size"`
	SHA256       string    `json:"sha256"`
	ETag         string    `json:"etag,omitempty"`
	LastModified string    `json:"last_modified,omitempty"`
	Fetched      time.Time `json:"fetched"`
}

// cache keeps the last good version of each file: dir/NAME (with NAME's
// slashes as directories) and dir/index.json. Writes go to a temporary
// file renamed into place, so a crash leaves the old or the new version.
type cache struct {
	dir string
}

func (c cache) path(name string) (string, error) {
	clean := path.Clean(name)
	if name == "" || clean != name || path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") || clean == cacheIndex {
		return "", fmt.Errorf("provision: cache: bad file name %q", name)
	}
	return filepath.Join(c.dir, filepath.FromSlash(clean)), nil
}

func (c cache) index() (map[string]CacheEntry, error) {
	b, err := os.ReadFile(filepath.Join(c.dir, cacheIndex))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]CacheEntry{}, nil
	}
	if err != nil {
		return nil, err
	}
	idx := map[string]CacheEntry{}
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("provision: cache: %s: %w", cacheIndex, err)
	}
	return idx, nil
}

func (c cache) load(name string) ([]byte, error) {
	p, err := c.path(name)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}

// store saves data as name and records e in the index.
func (c cache) store(name string, data []byte, e CacheEntry) error {
	p, err := c.path(name)
	if err != nil {
		return err
	}
	if err := writeAtomic(p, data); err != nil {
		return err
	}
	idx, err := c.index()
	if err != nil {
		idx = map[string]CacheEntry{} // a broken index is rebuilt
	}
	idx[name] = e
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(c.dir, cacheIndex), b)
}

func writeAtomic(p string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), p); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}
