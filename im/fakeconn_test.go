package im

import (
	"github.com/opencsf/opencsf/config"
)

func configSecret(s string) config.Secret { return config.Secret(s) }
