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

func TestEffectiveGroupScope(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, id := range []string{"d1", "d2"} {
		if _, err := st.DB().ExecContext(ctx, `INSERT INTO devices(id, public_key, secret, hostname, os, arch, username, agent_version, displays, enrolled_at, last_seen, revoked)
			VALUES(?, ?, x'00', 'h', '', '', '', '', '[]', 0, 0, 0)`, id, []byte(id)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.CreateGroup(ctx, store.Group{ID: "g1", Name: "servers"}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetDeviceGroup(ctx, "d1", "g1"); err != nil {
		t.Fatal(err)
	}
	s := New(st)
	mustSet := func(scope, v string) {
		t.Helper()
		if _, err := s.Set(ctx, scope, AllowRemoteSupport, v); err != nil {
			t.Fatal(err)
		}
	}
	check := func(scope, want, source string) {
		t.Helper()
		v, err := s.EffectiveIn(ctx, scope, AllowRemoteSupport)
		if err != nil || v.Value != want || v.Source != source {
			t.Fatalf("EffectiveIn(%q) = %+v, %v; want %s from %s", scope, v, err, want, source)
		}
	}
	mustSet(Global, "true")
	mustSet(GroupScope("g1"), "false")
	check(DeviceScope("d1"), "false", "group:g1")
	check(DeviceScope("d2"), "true", "global")
	check(GroupScope("g1"), "false", "group:g1")
	check(GroupScope("g2"), "true", "global")
	mustSet(DeviceScope("d1"), "true")
	check(DeviceScope("d1"), "true", "device:d1")
	if old, err := s.Clear(ctx, DeviceScope("d1"), AllowRemoteSupport); err != nil || old != "true" {
		t.Fatalf("Clear = %q, %v", old, err)
	}
	check(DeviceScope("d1"), "false", "group:g1")
	if _, err := s.Clear(ctx, Global, AllowRemoteSupport); !errors.Is(err, ErrBadScope) {
		t.Fatalf("Clear(global) = %v, want ErrBadScope", err)
	}
	if err := st.SetDeviceGroup(ctx, "d1", ""); err != nil {
		t.Fatal(err)
	}
	check(DeviceScope("d1"), "true", "global")
}

func TestKeysRegistry(t *testing.T) {
	keys := Keys()
	if len(keys) != len(specs) {
		t.Fatalf("Keys() has %d entries, want %d", len(keys), len(specs))
	}
	for _, k := range keys {
		if k.Label == "" || k.Doc == "" || k.Type == "" {
			t.Errorf("%s: incomplete description %+v", k.Key, k)
		}
		if err := Validate(Global, k.Key, k.Default); err != nil {
			t.Errorf("%s: default %q is invalid: %v", k.Key, k.Default, err)
		}
		if k.Type == "int" && (k.Min == nil || k.Max == nil) {
			t.Errorf("%s: int without bounds", k.Key)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		scope, key, value string
		want              error
	}{
		{Global, AllowRemoteSupport, "true", nil},
		{Global, AllowRemoteSupport, "yes", ErrBadValue},
		{Global, "remote_support.alow", "true", ErrUnknownKey},
		{"group:x", AllowRemoteSupport, "true", nil},
		{"group:", AllowRemoteSupport, "true", ErrBadScope},
		{"team:x", AllowRemoteSupport, "true", ErrBadScope},
		{Global, RequestExpiry, "0", ErrBadValue},
		{Global, DesktopIcon, "true", nil},
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
