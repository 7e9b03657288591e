package lab

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
)

// server is what every lab server shares: its instance, CA, users and the certificate
// files in its directory.
type server struct {
	in       *instance
	ca       *CA
	users    []User
	certFile string
	keyFile  string
}

// newServer checks the common options, prepares the directory and writes the server
// certificate into it; with ca nil it makes a CA in dir/ca.
func newServer(name, dir string, ca *CA, users []User, logger *slog.Logger) (*server, error) {
	users, err := usersOrDefault(users)
	if err != nil {
		return nil, err
	}
	in, err := newInstance(name, dir, logger)
	if err != nil {
		return nil, err
	}
	s := &server{in: in, ca: ca, users: users}
	if s.ca == nil {
		if s.ca, err = NewCA(filepath.Join(in.dir, "ca")); err != nil {
			in.cleanup()
			return nil, err
		}
	}
	if s.certFile, s.keyFile, err = s.ca.writeServerFiles(in.dir); err != nil {
		in.cleanup()
		return nil, fmt.Errorf("lab: %s: %w", name, err)
	}
	return s, nil
}

// fail cleans up after a failed start and returns err.
func (s *server) fail(err error) error {
	s.in.stop()
	s.in.cleanup()
	return err
}

func (s *server) restart(ctx context.Context) error { return s.in.restart(ctx) }
