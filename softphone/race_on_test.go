//go:build race

package softphone

// raceEnabled: the race detector makes sync.Pool drop items at random, so
// allocation counts (golang.org/x/net pools its sendmmsg headers) mean
// nothing under it.
const raceEnabled = true
