//go:build !windows

package winservice

import "context"

// Install fails: Windows only.
func Install(string, Config, bool) error { return ErrUnsupported }

// Stop fails: Windows only.
func Stop(context.Context, string) error { return ErrUnsupported }

// Delete fails: Windows only.
func Delete(context.Context, string) error { return ErrUnsupported }

// Status fails: Windows only.
func Status(string) (string, error) { return "", ErrUnsupported }

// Run fails: Windows only.
func Run(string, func(context.Context) error) error { return ErrUnsupported }

// ProtectDir fails: Windows only.
func ProtectDir(string) error { return ErrUnsupported }
