//go:build !linux

package elevation

// newProcSource returns nil: process recording is Linux-only for now
// (Windows would use ETW process events or Security event 4688, macOS the
// Endpoint Security framework).
func newProcSource() procSource { return nil }
