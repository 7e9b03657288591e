package provision

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/opencsf/opencsf/internal/tftp"
)

// fetched is one server's answer for one file.
type fetched struct {
	data         []byte
	source       string
	etag         string
	lastModified string
	notModified  bool // HTTP 304: the version we have is current
}

// server is a TFTP server or an HTTP file service.
type server interface {
	// fetch gets name. prev holds the validators of the version in force
	// (HTTP conditional GET). Errors wrap ErrNotFound when the server says
	// the file does not exist (an answer: no failover), errUnreachable
	// when the next server should be tried.
	fetch(ctx context.Context, name string, prev CacheEntry) (fetched, error)
	String() string
}

// errUnreachable marks errors after which the next server is tried.
var errUnreachable = errors.New("server unreachable")

type tftpServer struct {
	addr   string
	client *tftp.Client
}

func (s *tftpServer) String() string { return "tftp://" + s.addr }

func (s *tftpServer) fetch(ctx context.Context, name string, _ CacheEntry) (fetched, error) {
	data, _, err := s.client.Get(ctx, s.addr, name)
	switch {
	case err == nil:
		return fetched{data: data, source: s.String()}, nil
	case errors.Is(err, tftp.ErrNotFound):
		return fetched{}, fmt.Errorf("%w: %w", ErrNotFound, err)
	case ctx.Err() != nil:
		return fetched{}, err
	case errors.Is(err, tftp.ErrTimeout):
		return fetched{}, fmt.Errorf("%w: %w", errUnreachable, err)
	}
	// A protocol error, a truncated transfer, another ERROR packet: this
	// server is broken for now, the next may do better.
	return fetched{}, fmt.Errorf("%w: %w", errUnreachable, err)
}

type httpServer struct {
	base   *url.URL
	client *http.Client
}

func (s *httpServer) String() string { return s.base.String() }

func (s *httpServer) url(name string) string {
	u := *s.base
	segs := strings.Split(name, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/" + strings.Join(segs, "/")
	u.RawPath = ""
	return u.String()
}

func (s *httpServer) fetch(ctx context.Context, name string, prev CacheEntry) (fetched, error) {
	u := s.url(name)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fetched{}, err
	}
	if prev.ETag != "" {
		req.Header.Set("If-None-Match", prev.ETag)
	}
	if prev.LastModified != "" {
		req.Header.Set("If-Modified-Since", prev.LastModified)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fetched{}, err
		}
		return fetched{}, fmt.Errorf("%w: %w", errUnreachable, err)
	}
	defer resp.Body.Close()
	f := fetched{source: u, etag: resp.Header.Get("ETag"), lastModified: resp.Header.Get("Last-Modified")}
	switch {
	case resp.StatusCode == http.StatusNotModified:
		f.notModified = true
		return f, nil
	case resp.StatusCode == http.StatusNotFound:
		return fetched{}, fmt.Errorf("%w: GET %s: %s", ErrNotFound, u, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return fetched{}, fmt.Errorf("%w: GET %s: %s", errUnreachable, u, resp.Status)
	}
	if resp.ContentLength > MaxFileSize {
		return fetched{}, fmt.Errorf("%w: GET %s: %d bytes exceed %d", errUnreachable, u, resp.ContentLength, MaxFileSize)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxFileSize+1))
	if err != nil {
		return fetched{}, fmt.Errorf("%w: GET %s: %w", errUnreachable, u, err)
	}
	if len(data) > MaxFileSize {
		return fetched{}, fmt.Errorf("%w: GET %s: more than %d bytes", errUnreachable, u, MaxFileSize)
	}
	f.data = data
	return f, nil
}
