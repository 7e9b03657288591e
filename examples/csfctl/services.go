package main

import (
	"github.com/opencsf/opencsf/config"
	"github.com/opencsf/opencsf/csf"
	"github.com/opencsf/opencsf/directory"
	"github.com/opencsf/opencsf/provision"
	"github.com/opencsf/opencsf/softphone"
)

// The services a configuration can name besides IM and voicemail (which
// register with their subcommands): each runs when its server is set.
func init() {
	registerService("softphone", func(snap *config.Snapshot) (csf.ServiceSpec, bool) {
		return softphone.Spec(softphone.Config{}, nil), snap.String(config.KeySipRegistrar) != ""
	})
	registerService("provision", func(snap *config.Snapshot) (csf.ServiceSpec, bool) {
		set := snap.String(config.KeyTftpServer1) != "" || snap.String(config.KeyHttpFileServer) != ""
		return provision.Spec(provision.Config{}), set
	})
	registerService("directory", func(snap *config.Snapshot) (csf.ServiceSpec, bool) {
		return directory.Spec(directory.Config{}), snap.String(config.KeyLdapServer) != ""
	})
}
