//go:build !windows

package helper

func childMain() bool { return false }
