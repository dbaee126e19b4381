package settings

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"porthole/broker/store"
)

func TestEffectiveScopes(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := New(st)
	check := func(dev, want, source string) {
		t.Helper()
		v, err := s.Effective(ctx, dev, Consent)
		if err != nil || v.Value != want || v.Source != source {
			t.Fatalf("Effective(%q) = %+v, %v; want %s from %s", dev, v, err, want, source)
		}
	}
	check("d1", "required", "default")
	if _, err := s.Set(ctx, Global, Consent, "unattended"); err != nil {
		t.Fatal(err)
	}
	check("d1", "unattended", "global")
	if _, err := s.Set(ctx, DeviceScope("d1"), Consent, "required"); err != nil {
		t.Fatal(err)
	}
	check("d1", "required", "device:d1")
	check("d2", "unattended", "global")
}

func TestValidate(t *testing.T) {
	tests := []struct {
		scope, key, value string
		want              error
	}{
		{Global, AllowRemoteSupport, "true", nil},
		{Global, AllowRemoteSupport, "yes", ErrBadValue},
		{Global, "remote_support.alow", "true", ErrUnknownKey},
		{"group:x", AllowRemoteSupport, "true", ErrBadScope},
		{"device:", AllowRemoteSupport, "true", ErrBadScope},
		{Global, ConsentTimeout, "4", ErrBadValue},
		{Global, ConsentTimeout, "60", nil},
		{Global, Consent, "maybe", ErrBadValue},
		{Global, RecordingEnabled, "false", nil},
		{Global, RecordingRequired, "1", ErrBadValue},
		{Global, RecordingRetentionDays, "0", ErrBadValue},
		{Global, RecordingRetentionDays, "3651", ErrBadValue},
		{Global, RecordingRetentionDays, "30", nil},
	}
	for _, tc := range tests {
		if err := Validate(tc.scope, tc.key, tc.value); !errors.Is(err, tc.want) {
			t.Errorf("Validate(%s,%s,%s) = %v, want %v", tc.scope, tc.key, tc.value, err, tc.want)
		}
	}
}
