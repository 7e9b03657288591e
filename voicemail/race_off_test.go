//go:build !race

package voicemail

const raceEnabled = false
