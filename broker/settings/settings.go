// Package settings holds the broker's typed settings and resolves their
// effective value for a device: the device's own value, else the global
// one, else the built-in default. Unknown keys and invalid values are
// refused, so a typo never silently changes behaviour.
package settings

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Keys.
const (
	AllowRemoteSupport = "remote_support.allow"           // bool, default true
	Consent            = "remote_support.consent"         // "required" | "unattended"
	ConsentTimeout     = "remote_support.consent_timeout" // seconds, 5..600, default 60
	ViewOnlyDefault    = "remote_support.view_only"       // bool, default false: sessions start in control mode
	ExpiryMinutes      = "remote_support.expiry_minutes"  // minutes, 0 (off)..1440, default 60
	AllowExtend        = "remote_support.allow_extend"    // bool, default false: the requester may extend an expiring session
	MFARequirePortal   = "mfa.require_portal"             // bool, default false: every portal user needs TOTP (global)
	MFARequireSupport  = "mfa.require_support"            // bool, default false: step-up TOTP before a support session
	MFAStepUpMinutes   = "mfa.stepup_minutes"             // minutes, 1..1440, default 10: how fresh the step-up must be

	RecordingEnabled       = "recording.enabled"        // bool, default true: record relayed sessions
	RecordingRequired      = "recording.required"       // bool, default false: end a session whose recording cannot start or fails
	RecordingRetentionDays = "recording.retention_days" // days, 1..3650, default 90 (global): then recordings are deleted
	// Break glass: the longest lifetime of a temporary administrator, and
	// how soon it must be used before it is removed unused (0 = no window).
	BreakGlassMaxMinutes       = "breakglass.max_minutes"        // minutes, 1..4320, default 60
	BreakGlassUseWithinMinutes = "breakglass.use_within_minutes" // minutes, 0..4320, default 15
)

// Errors, matched with errors.Is.
var (
	ErrUnknownKey = errors.New("unknown setting")
	ErrBadValue   = errors.New("invalid setting value")
	ErrBadScope   = errors.New("invalid setting scope")
)

type spec struct {
	def   string
	check func(string) error
	doc   string
}

func boolean(v string) error {
	if v != "true" && v != "false" {
		return fmt.Errorf("%w: want true or false", ErrBadValue)
	}
	return nil
}

func oneOf(opts ...string) func(string) error {
	return func(v string) error {
		for _, o := range opts {
			if v == o {
				return nil
			}
		}
		return fmt.Errorf("%w: want one of %s", ErrBadValue, strings.Join(opts, ", "))
	}
}

func intRange(lo, hi int) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("%w: want a whole number %d..%d", ErrBadValue, lo, hi)
		}
		return nil
	}
}

var specs = map[string]spec{
	AllowRemoteSupport: {"true", boolean, "Allow Remote Support on the device"},
	Consent:            {"required", oneOf("required", "unattended"), "Ask the end user (required) or connect without asking (unattended, for servers)"},
	ConsentTimeout:     {"60", intRange(5, 600), "Seconds the end user has to answer; no answer counts as No"},
	ViewOnlyDefault:    {"false", boolean, "Start sessions view-only"},
	ExpiryMinutes:      {"60", intRange(0, 1440), "Minutes after consent at which the broker ends a session (0 = never)"},
	AllowExtend:        {"false", boolean, "Let the portal user extend a session by another expiry period"},
	MFARequirePortal:   {"false", boolean, "Require MFA for portal users (global scope only)"},
	MFARequireSupport:  {"false", boolean, "Require MFA to start a remote support session: a TOTP code within the step-up window"},
	MFAStepUpMinutes:   {"10", intRange(1, 1440), "Minutes a TOTP verification stays fresh for starting a remote support session"},

	RecordingEnabled:       {"true", boolean, "Session recordings: record the video and events of every remote support session"},
	RecordingRequired:      {"false", boolean, "Require recording: end a session whose recording cannot start or stops (disk full)"},
	RecordingRetentionDays: {"90", intRange(1, 3650), "Days recordings are kept before the broker deletes them (global scope)"},
	BreakGlassMaxMinutes: {"60", intRange(1, 4320),
		"Longest lifetime, in minutes, of a break-glass administrator account; longer expiries are refused"},
	BreakGlassUseWithinMinutes: {"15", intRange(0, 4320),
		"Minutes within which a break-glass account must be used, or it is removed unused (0 = no window)"},
}

// backend is the persistence the settings need.
type backend interface {
	Setting(ctx context.Context, scope, key string) (string, bool, error)
	SetSetting(ctx context.Context, scope, key, value string) error
}

// Settings reads and writes settings.
type Settings struct{ st backend }

// New returns Settings over st.
func New(st backend) *Settings { return &Settings{st: st} }

// Global is the scope that applies to every device.
const Global = "global"

// DeviceScope is the scope of one device.
func DeviceScope(id string) string { return "device:" + id }

// Value is an effective setting and where it came from.
type Value struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Source string `json:"source"` // "default", "global" or "device:ID"
	Doc    string `json:"doc"`
}

// Effective returns the value for a device ("" for the global value).
func (s *Settings) Effective(ctx context.Context, deviceID, key string) (Value, error) {
	sp, ok := specs[key]
	if !ok {
		return Value{}, fmt.Errorf("%w %q", ErrUnknownKey, key)
	}
	scopes := []string{Global}
	if deviceID != "" {
		scopes = []string{DeviceScope(deviceID), Global}
	}
	for _, sc := range scopes {
		v, ok, err := s.st.Setting(ctx, sc, key)
		if err != nil {
			return Value{}, fmt.Errorf("setting %s: %w", key, err)
		}
		if ok {
			return Value{Key: key, Value: v, Source: sc, Doc: sp.doc}, nil
		}
	}
	return Value{Key: key, Value: sp.def, Source: "default", Doc: sp.doc}, nil
}

// Bool returns a boolean setting; an error means "deny" to callers.
func (s *Settings) Bool(ctx context.Context, deviceID, key string) (bool, error) {
	v, err := s.Effective(ctx, deviceID, key)
	return v.Value == "true", err
}

// Int returns an integer setting.
func (s *Settings) Int(ctx context.Context, deviceID, key string) (int, error) {
	v, err := s.Effective(ctx, deviceID, key)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(v.Value)
}

// All returns every setting's effective value for a device (or global).
func (s *Settings) All(ctx context.Context, deviceID string) ([]Value, error) {
	keys := make([]string, 0, len(specs))
	for k := range specs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]Value, 0, len(keys))
	for _, k := range keys {
		v, err := s.Effective(ctx, deviceID, k)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Validate checks a scope, key and value without writing.
func Validate(scope, key, value string) error {
	sp, ok := specs[key]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownKey, key)
	}
	if scope != Global && (!strings.HasPrefix(scope, "device:") || len(scope) <= len("device:")) {
		return fmt.Errorf("%w %q: want global or device:ID", ErrBadScope, scope)
	}
	return sp.check(value)
}

// Set validates and writes a value, returning the previous effective value
// in that scope ("" if unset) for the audit record.
func (s *Settings) Set(ctx context.Context, scope, key, value string) (old string, err error) {
	if err := Validate(scope, key, value); err != nil {
		return "", err
	}
	old, _, err = s.st.Setting(ctx, scope, key)
	if err != nil {
		return "", err
	}
	return old, s.st.SetSetting(ctx, scope, key, value)
}
