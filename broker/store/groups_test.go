package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// groupFixture is a store with group g1 holding devices d1 and d2, a
// group-scope setting, and (with ents) two entitlements; d3 is in g2.
func groupFixture(t *testing.T, ents bool) *Store {
	t.Helper()
	ctx := context.Background()
	s := mustOpen(t, filepath.Join(t.TempDir(), "p.db"))
	t.Cleanup(func() { s.Close() })
	at := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	for _, g := range []Group{{ID: "g1", Name: "lab"}, {ID: "g2", Name: "office"}} {
		g.CreatedAt = at
		if err := s.CreateGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	for i, id := range []string{"d1", "d2", "d3"} {
		err := s.tx(ctx, func(tx *sql.Tx) error {
			return insertDevice(ctx, tx, Device{ID: id, PublicKey: []byte{byte(i)}, SecretSealed: []byte{1}, Hostname: id, EnrolledAt: at})
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetDeviceGroup(ctx, id, map[string]string{"d1": "g1", "d2": "g1", "d3": "g2"}[id]); err != nil {
			t.Fatal(err)
		}
	}
	for _, set := range [][3]string{{"group:g1", "remote_support.view_only", "true"}, {"group:g1", "remote_support.consent", "never"},
		{"group:g2", "remote_support.view_only", "false"}, {"global", "remote_support.view_only", "false"}} {
		if err := s.SetSetting(ctx, set[0], set[1], set[2]); err != nil {
			t.Fatal(err)
		}
	}
	if ents {
		for _, n := range []string{"remote_support", "break_glass"} {
			if _, err := s.PutEntitlement(ctx, Entitlement{ID: "e-" + n, Name: n, GroupID: "g1", Request: "{}", UpdatedAt: at}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return s
}

func TestRenameGroup(t *testing.T) {
	ctx := context.Background()
	s := groupFixture(t, false)
	tests := []struct {
		id, name, old string
		err           error
	}{
		{"g1", "labs", "lab", nil},
		{"g1", "office", "", ErrConflict},
		{"none", "x", "", ErrNotFound},
	}
	for _, tc := range tests {
		if free := s.GroupNameFree(ctx, tc.name, tc.id); !errors.Is(free, tc.err) && !errors.Is(tc.err, ErrNotFound) {
			t.Errorf("GroupNameFree(%s, %s) = %v, want %v", tc.name, tc.id, free, tc.err)
		}
		old, err := s.RenameGroup(ctx, tc.id, tc.name)
		if !errors.Is(err, tc.err) || (err == nil && old != tc.old) {
			t.Errorf("RenameGroup(%s, %s) = %q, %v; want %q, %v", tc.id, tc.name, old, err, tc.old, tc.err)
		}
	}
	if g, err := s.Group(ctx, "g1"); err != nil || g.Name != "labs" || g.Devices != 2 {
		t.Fatalf("after rename: %+v, %v", g, err)
	}
}

func TestDeleteGroup(t *testing.T) {
	ctx := context.Background()
	want := func(ents []string) GroupDeletion {
		return GroupDeletion{ID: "g1", Name: "lab", Devices: []string{"d1", "d2"},
			Settings: []string{"remote_support.consent", "remote_support.view_only"}, Entitlements: ents}
	}
	tests := []struct {
		name  string
		ents  bool
		force bool
		err   error
		plan  GroupDeletion
	}{
		{"no entitlements", false, false, nil, want([]string{})},
		{"entitlements refused", true, false, ErrGroupHasEntitlements, want([]string{"break_glass", "remote_support"})},
		{"entitlements forced", true, true, nil, want([]string{"break_glass", "remote_support"})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := groupFixture(t, tc.ents)
			plan, err := s.PlanGroupDeletion(ctx, "g1")
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.plan, plan); d != "" {
				t.Fatalf("plan (-want +got):\n%s", d)
			}
			if err := plan.Check(tc.force); !errors.Is(err, tc.err) {
				t.Fatalf("Check = %v, want %v", err, tc.err)
			}
			got, err := s.DeleteGroup(ctx, plan, tc.force)
			if !errors.Is(err, tc.err) {
				t.Fatalf("DeleteGroup = %v, want %v", err, tc.err)
			}
			gone := err == nil
			if gone && cmp.Diff(plan, got) != "" {
				t.Fatalf("deleted %+v, planned %+v", got, plan)
			}
			if _, err := s.Group(ctx, "g1"); errors.Is(err, ErrNotFound) != gone {
				t.Fatalf("group after delete: %v (deleted: %v)", err, gone)
			}
			for dev, g := range map[string]string{"d1": "g1", "d2": "g1", "d3": "g2"} {
				if gone && g == "g1" {
					g = ""
				}
				if got, err := s.DeviceGroup(ctx, dev); err != nil || got != g {
					t.Errorf("%s group = %q, %v; want %q", dev, got, err, g)
				}
			}
			if _, ok, _ := s.Setting(ctx, "group:g1", "remote_support.view_only"); ok == gone {
				t.Errorf("group setting kept = %v after delete = %v", ok, gone)
			}
			if v, ok, _ := s.Setting(ctx, "group:g2", "remote_support.view_only"); !ok || v != "false" {
				t.Errorf("other group's setting = %q, %v", v, ok)
			}
			es, _ := s.Entitlements(ctx)
			if wantN := map[bool]int{true: 2}[tc.ents && !gone]; len(es) != wantN {
				t.Errorf("entitlements left = %d, want %d", len(es), wantN)
			}
		})
	}
}

// TestDeleteGroupChanged: a delete whose audited plan is stale (a device
// joined since) is refused and removes nothing.
func TestDeleteGroupChanged(t *testing.T) {
	ctx := context.Background()
	s := groupFixture(t, false)
	plan, err := s.PlanGroupDeletion(ctx, "g1")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetDeviceGroup(ctx, "d3", "g1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteGroup(ctx, plan, false); !errors.Is(err, ErrGroupChanged) {
		t.Fatalf("stale delete = %v", err)
	}
	if g, err := s.Group(ctx, "g1"); err != nil || g.Devices != 3 {
		t.Fatalf("group after refused delete: %+v, %v", g, err)
	}
	if _, err := s.PlanGroupDeletion(ctx, "none"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("plan of unknown group: %v", err)
	}
}
