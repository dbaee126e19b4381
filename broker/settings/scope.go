package settings

import "porthole/internal/wire"

// Keys that only mean something for the whole broker. The broker reads
// them without a device (the portal's login rule, the retention job), so a
// group or device value would be stored, shown as in force, and ignored:
// Validate refuses it instead, with a clear error.
func init() {
	for _, k := range []string{MFARequirePortal, RecordingRetentionDays} {
		globalOnly[k] = true
	}
}

// GlobalOnly reports whether key may be set at the global scope only.
func GlobalOnly(key string) bool { return globalOnly[key] }

// validScopeID accepts the ids the broker hands out for devices and
// groups (wire.ValidID). Anything else ("../../x", a space, a second colon)
// is no device or group and is refused before it reaches the store or an
// audit record.
func validScopeID(id string) bool { return wire.ValidID(id) }
