// Package settings holds the broker's typed settings and resolves their
// effective value for a device: the device's own value, else its group's,
// else the global one, else the built-in default. Unknown keys and invalid
// values are refused, so a typo never silently changes behaviour. The key
// registry (Keys) carries each key's label, type, default and bounds, so
// the portal renders its settings page from it.
package settings

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
	// MFARequirePrivileged asks for a step-up TOTP code before creating a
	// break-glass account or issuing an elevation code (bool, default false).
	MFARequirePrivileged = "mfa.require_privileged"

	RecordingEnabled       = "recording.enabled"        // bool, default true: record relayed sessions
	RecordingRequired      = "recording.required"       // bool, default false: end a session whose recording cannot start or fails
	RecordingRetentionDays = "recording.retention_days" // days, 1..3650, default 90 (global): then recordings are deleted
	// Break glass: the longest lifetime of a temporary administrator, and
	// how soon it must be used before it is removed unused (0 = no window).
	BreakGlassMaxMinutes       = "breakglass.max_minutes"        // minutes, 1..4320, default 60
	BreakGlassUseWithinMinutes = "breakglass.use_within_minutes" // minutes, 0..4320, default 15
	DesktopIcon                = "remote_support.desktop_icon"   // bool, default false: a "Request support" launcher on endpoints
	RequestExpiry              = "requests.expiry_minutes"       // minutes, 1..1440, default 30: a pending request expires
)

// Errors, matched with errors.Is.
var (
	ErrUnknownKey = errors.New("unknown setting")
	ErrBadValue   = errors.New("invalid setting value")
	ErrBadScope   = errors.New("invalid setting scope")
)

type spec struct {
	def   string
	check checker
	doc   string
}

// checker validates a value and says, for the portal, what kind of input
// the value takes.
type checker struct {
	typ      string // "bool", "enum", "int" or "text"
	options  []string
	min, max int
	text     func(string) error // for "text"
}

func (c checker) check(v string) error {
	switch c.typ {
	case "bool":
		if v != "true" && v != "false" {
			return fmt.Errorf("%w: want true or false", ErrBadValue)
		}
	case "enum":
		if !slices.Contains(c.options, v) {
			return fmt.Errorf("%w: want one of %s", ErrBadValue, strings.Join(c.options, ", "))
		}
	case "int":
		n, err := strconv.Atoi(v)
		if err != nil || n < c.min || n > c.max {
			return fmt.Errorf("%w: want a whole number %d..%d", ErrBadValue, c.min, c.max)
		}
	case "text":
		return c.text(v)
	default:
		return fmt.Errorf("%w: unknown type %q", ErrBadValue, c.typ)
	}
	return nil
}

var boolean = checker{typ: "bool"}

func oneOf(opts ...string) checker { return checker{typ: "enum", options: opts} }

func intRange(lo, hi int) checker { return checker{typ: "int", min: lo, max: hi} }

// text accepts free text that check validates.
func text(check func(string) error) checker { return checker{typ: "text", text: check} }

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
	MFARequirePrivileged: {"false", boolean,
		"Require MFA to create a break-glass account or issue an elevation code: a TOTP code within the step-up window"},

	RecordingEnabled:       {"true", boolean, "Session recordings: record the video and events of every remote support session"},
	RecordingRequired:      {"false", boolean, "Require recording: end a session whose recording cannot start or stops (disk full)"},
	RecordingRetentionDays: {"90", intRange(1, 3650), "Days recordings are kept before the broker deletes them (global scope)"},
	BreakGlassMaxMinutes: {"60", intRange(1, 4320),
		"Longest lifetime, in minutes, of a break-glass administrator account; longer expiries are refused"},
	BreakGlassUseWithinMinutes: {"15", intRange(0, 4320),
		"Minutes within which a break-glass account must be used, or it is removed unused (0 = no window)"},
	DesktopIcon:   {"false", boolean, "Put a \"Request support\" icon on the endpoint's desktop"},
	RequestExpiry: {"30", intRange(1, 1440), "Minutes a pending request waits for a decision before it expires (the end user is told)"},
}

// labels are the portal's names for keys; a key without one shows its name.
// Keys of features built elsewhere may be labelled here before they exist.
var labels = map[string]string{
	AllowRemoteSupport:              "Allow Remote Support",
	Consent:                         "End-user consent",
	ConsentTimeout:                  "Consent timeout (seconds)",
	ViewOnlyDefault:                 "View-only for the portal user",
	ExpiryMinutes:                   "Session expiry (minutes)",
	AllowExtend:                     "Allow extending sessions",
	MFARequirePortal:                "Require MFA for the portal",
	MFARequireSupport:               "Require MFA for sessions",
	MFAStepUpMinutes:                "MFA step-up window (minutes)",
	MFARequirePrivileged:            "Require MFA for break glass and codes",
	DesktopIcon:                     "Desktop icon on endpoints",
	RequestExpiry:                   "Request expiry (minutes)",
	"recording.enabled":             "Session recordings",
	"recording.required":            "Require recording",
	"recording.retention_days":      "Recording retention (days)",
	BreakGlassMaxMinutes:            "Break-glass max duration (minutes)",
	BreakGlassUseWithinMinutes:      "Break-glass use-within window (minutes)",
	"elevation.max_minutes":         "Elevation period (minutes)",
	"elevation.self_approve_groups": "Elevation self-approval groups",
}

// Key describes one setting for the portal: how to show and edit it.
type Key struct {
	Key     string   `json:"key"`
	Label   string   `json:"label"`
	Type    string   `json:"type"` // bool, enum or int
	Doc     string   `json:"doc"`
	Default string   `json:"default"`
	Options []string `json:"options,omitempty"`
	Min     *int     `json:"min,omitempty"`
	Max     *int     `json:"max,omitempty"`
	// GlobalOnly keys take no group or device value (the portal offers
	// them at the global scope only; the broker refuses other scopes).
	GlobalOnly bool `json:"global_only,omitempty"`
}

// Keys is the registry of every setting, sorted by key.
func Keys() []Key {
	out := make([]Key, 0, len(specs))
	for _, k := range sortedKeys() {
		out = append(out, describe(k))
	}
	return out
}

func describe(k string) Key {
	sp := specs[k]
	d := Key{Key: k, Label: labels[k], Type: sp.check.typ, Doc: sp.doc, Default: sp.def, Options: sp.check.options,
		GlobalOnly: globalOnly[k]}
	if d.Label == "" {
		d.Label = k
	}
	if sp.check.typ == "int" {
		lo, hi := sp.check.min, sp.check.max
		d.Min, d.Max = &lo, &hi
	}
	return d
}

func sortedKeys() []string {
	keys := make([]string, 0, len(specs))
	for k := range specs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// backend is the persistence the settings need.
type backend interface {
	Setting(ctx context.Context, scope, key string) (string, bool, error)
	SetSetting(ctx context.Context, scope, key, value string) error
	DeleteSetting(ctx context.Context, scope, key string) error
	DeviceGroup(ctx context.Context, deviceID string) (string, error)
}

// Settings reads and writes settings.
type Settings struct{ st backend }

// New returns Settings over st.
func New(st backend) *Settings { return &Settings{st: st} }

// Global is the scope that applies to every device.
const Global = "global"

// DeviceScope is the scope of one device.
func DeviceScope(id string) string { return "device:" + id }

// GroupScope is the scope of a device group; it overrides Global.
func GroupScope(id string) string { return "group:" + id }

// Value is an effective setting and where it came from.
type Value struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Source string `json:"source"` // "default", "global", "group:ID" or "device:ID"
	Doc    string `json:"doc"`
}

// Effective returns the value for a device ("" for the global value):
// the device's own, else its group's, else the global one, else the default.
func (s *Settings) Effective(ctx context.Context, deviceID, key string) (Value, error) {
	scopes := []string{Global}
	if deviceID != "" {
		g, err := s.st.DeviceGroup(ctx, deviceID)
		if err != nil {
			return Value{}, fmt.Errorf("setting %s: device group: %w", key, err)
		}
		scopes = []string{DeviceScope(deviceID), Global}
		if g != "" {
			scopes = []string{DeviceScope(deviceID), GroupScope(g), Global}
		}
	}
	return s.resolve(ctx, scopes, key)
}

// EffectiveIn returns the value that applies in scope: for a group, the
// group's own value, else the global one, else the default.
func (s *Settings) EffectiveIn(ctx context.Context, scope, key string) (Value, error) {
	if id, ok := strings.CutPrefix(scope, "device:"); ok {
		return s.Effective(ctx, id, key)
	}
	if strings.HasPrefix(scope, "group:") {
		return s.resolve(ctx, []string{scope, Global}, key)
	}
	return s.resolve(ctx, []string{Global}, key)
}

func (s *Settings) resolve(ctx context.Context, scopes []string, key string) (Value, error) {
	sp, ok := specs[key]
	if !ok {
		return Value{}, fmt.Errorf("%w %q", ErrUnknownKey, key)
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
	return s.AllIn(ctx, DeviceScopeOrGlobal(deviceID))
}

// DeviceScopeOrGlobal is the device's scope, or Global for "".
func DeviceScopeOrGlobal(deviceID string) string {
	if deviceID == "" {
		return Global
	}
	return DeviceScope(deviceID)
}

// AllIn returns every setting's effective value in scope.
func (s *Settings) AllIn(ctx context.Context, scope string) ([]Value, error) {
	keys := sortedKeys()
	out := make([]Value, 0, len(keys))
	for _, k := range keys {
		v, err := s.EffectiveIn(ctx, scope, k)
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
	if err := ValidateScope(scope); err != nil {
		return err
	}
	if globalOnly[key] && scope != Global {
		return fmt.Errorf("%w %q: %s is set for the whole broker (global scope only)", ErrBadScope, scope, key)
	}
	return sp.check.check(value)
}

// ValidateScope accepts global, group:ID and device:ID, where ID is an id
// as the broker hands them out (see validScopeID).
func ValidateScope(scope string) error {
	if scope == Global {
		return nil
	}
	for _, p := range []string{"device:", "group:"} {
		if id, ok := strings.CutPrefix(scope, p); ok && validScopeID(id) {
			return nil
		}
	}
	return fmt.Errorf("%w %q: want global, group:ID or device:ID", ErrBadScope, scope)
}

// Set validates and writes a value, returning the previous value in that
// scope ("" if unset) for the audit record.
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

// Clear removes a scope's own value (group or device) so the next scope's
// applies again; it returns the removed value.
func (s *Settings) Clear(ctx context.Context, scope, key string) (old string, err error) {
	if _, ok := specs[key]; !ok {
		return "", fmt.Errorf("%w %q", ErrUnknownKey, key)
	}
	if err := ValidateScope(scope); err != nil || scope == Global {
		return "", fmt.Errorf("%w %q: only a group or device value can be cleared", ErrBadScope, scope)
	}
	old, _, err = s.st.Setting(ctx, scope, key)
	if err != nil {
		return "", err
	}
	return old, s.st.DeleteSetting(ctx, scope, key)
}
