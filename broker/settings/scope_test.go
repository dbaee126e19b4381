package settings

import (
	"errors"
	"strings"
	"testing"
)

// TestScopesRefused: a scope must name the global scope or a device or
// group by a well-formed id, and global-only keys take no group or device
// value; each refusal is ErrBadScope with a message that says why.
func TestScopesRefused(t *testing.T) {
	tests := []struct {
		scope, key, value string
		want              string // "" = accepted; else a part of the error
	}{
		{"global", MFARequirePortal, "true", ""},
		{"group:g1", MFARequirePortal, "true", "global scope only"},
		{"device:d1", MFARequirePortal, "true", "global scope only"},
		{"global", RecordingRetentionDays, "30", ""},
		{"group:g1", RecordingRetentionDays, "30", "global scope only"},
		{"device:d1", RecordingRetentionDays, "30", "global scope only"},
		{"group:g1", NotifyEmailTo, "a@example.com", "global scope only"},
		{"group:g1", AllowRemoteSupport, "false", ""},
		{"device:Ab_9-x", AllowRemoteSupport, "false", ""},
		{"device:../../x", AllowRemoteSupport, "false", "want global, group:ID or device:ID"},
		{"device:a/b", AllowRemoteSupport, "false", "want global"},
		{"group:a b", AllowRemoteSupport, "false", "want global"},
		{"group:a:b", AllowRemoteSupport, "false", "want global"},
		{"device:" + strings.Repeat("a", 65), AllowRemoteSupport, "false", "want global"},
		{"device:", AllowRemoteSupport, "false", "want global"},
		{"Global", AllowRemoteSupport, "false", "want global"},
		{"user:admin", AllowRemoteSupport, "false", "want global"},
	}
	for _, tc := range tests {
		err := Validate(tc.scope, tc.key, tc.value)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Validate(%q, %s) = %v, want accepted", tc.scope, tc.key, err)
		case tc.want != "" && (!errors.Is(err, ErrBadScope) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("Validate(%q, %s) = %v, want ErrBadScope saying %q", tc.scope, tc.key, err, tc.want)
		}
	}
	if !GlobalOnly(MFARequirePortal) || GlobalOnly(AllowRemoteSupport) {
		t.Fatal("GlobalOnly does not match the registry")
	}
}
