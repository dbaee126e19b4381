package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Group is a named set of devices; it is a settings scope between the
// global settings and a device's own.
type Group struct {
	ID        string
	Name      string
	CreatedAt time.Time
	Devices   int // members, filled by Groups
}

// CreateGroup adds a group; a taken name is ErrConflict.
func (s *Store) CreateGroup(ctx context.Context, g Group) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO device_groups(id, name, created_at) VALUES(?,?,?)`, g.ID, g.Name, ms(g.CreatedAt))
	return nameTaken(err, g.Name)
}

// GroupNameFree reports ErrConflict when another group than exceptID is
// named name, so callers can refuse before auditing.
func (s *Store) GroupNameFree(ctx context.Context, name, exceptID string) error {
	var id string
	err := s.db.QueryRowContext(ctx, `SELECT id FROM device_groups WHERE name = ? AND id != ?`, name, exceptID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err == nil {
		return errNameTaken(name)
	}
	return err
}

// nameTaken turns a unique-name violation into a clear ErrConflict.
func nameTaken(err error, name string) error {
	if isUnique(err) {
		return errNameTaken(name)
	}
	return err
}

func errNameTaken(name string) error {
	return fmt.Errorf("a group named %q already exists: %w", name, ErrConflict)
}

// Group returns one group.
func (s *Store) Group(ctx context.Context, id string) (Group, error) {
	var g Group
	var c int64
	err := s.db.QueryRowContext(ctx, `SELECT g.id, g.name, g.created_at, (SELECT COUNT(*) FROM device_group_members m WHERE m.group_id = g.id)
		FROM device_groups g WHERE g.id = ?`, id).Scan(&g.ID, &g.Name, &c, &g.Devices)
	g.CreatedAt = fromMS(c)
	return g, notFound(err, "group")
}

// Groups lists groups by name with their member counts.
func (s *Store) Groups(ctx context.Context) ([]Group, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT g.id, g.name, g.created_at, (SELECT COUNT(*) FROM device_group_members m WHERE m.group_id = g.id)
		FROM device_groups g ORDER BY g.name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Group{}
	for rows.Next() {
		var g Group
		var c int64
		if err := rows.Scan(&g.ID, &g.Name, &c, &g.Devices); err != nil {
			return nil, err
		}
		g.CreatedAt = fromMS(c)
		out = append(out, g)
	}
	return out, rows.Err()
}

// DeviceGroup returns the id of the device's group, "" when it has none.
func (s *Store) DeviceGroup(ctx context.Context, deviceID string) (string, error) {
	var id string
	err := s.db.QueryRowContext(ctx, `SELECT group_id FROM device_group_members WHERE device_id = ?`, deviceID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return id, err
}

// GroupDevices lists the ids of a group's devices.
func (s *Store) GroupDevices(ctx context.Context, groupID string) ([]string, error) {
	return queryAll(ctx, s.db, scanString, `SELECT device_id FROM device_group_members WHERE group_id = ? ORDER BY device_id`, groupID)
}

// SetDeviceGroup moves a device into a group ("" removes it from any group).
func (s *Store) SetDeviceGroup(ctx context.Context, deviceID, groupID string) error {
	if groupID == "" {
		_, err := s.db.ExecContext(ctx, `DELETE FROM device_group_members WHERE device_id = ?`, deviceID)
		return err
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO device_group_members(device_id, group_id) VALUES(?,?)
		ON CONFLICT(device_id) DO UPDATE SET group_id = excluded.group_id`, deviceID, groupID)
	return err
}

// RenameGroup renames a group and returns its old name; a taken name is
// ErrConflict.
func (s *Store) RenameGroup(ctx context.Context, id, name string) (old string, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT name FROM device_groups WHERE id = ?`, id).Scan(&old); err != nil {
			return notFound(err, "group")
		}
		_, err := tx.ExecContext(ctx, `UPDATE device_groups SET name = ? WHERE id = ?`, name, id)
		return nameTaken(err, name)
	})
	return old, err
}

// GroupDeletion is what deleting a group removes: its devices fall back to
// no group, its group-scope settings and (when forced) its entitlements
// are deleted.
type GroupDeletion struct {
	ID           string
	Name         string
	Devices      []string // ids of the devices that leave the group
	Settings     []string // keys of the group-scope settings removed
	Entitlements []string // names of the entitlements removed
}

// ErrGroupHasEntitlements refuses an unforced delete of a group that
// entitlements are defined on (they and grants on them would lose meaning).
var ErrGroupHasEntitlements = errors.New("the group has entitlements")

// ErrGroupChanged refuses a delete whose plan no longer matches the group
// (a device joined or a setting changed after the caller audited it).
var ErrGroupChanged = errors.New("the group changed meanwhile; reload and try again")

// Check refuses (ErrGroupHasEntitlements, naming them) to delete a group
// with entitlements unless the delete is forced.
func (d GroupDeletion) Check(force bool) error {
	if len(d.Entitlements) == 0 || force {
		return nil
	}
	return fmt.Errorf("%w: %d (%s); delete them first or force the delete", ErrGroupHasEntitlements, len(d.Entitlements), strings.Join(d.Entitlements, ", "))
}

// PlanGroupDeletion reports what DeleteGroup would remove, without
// removing anything.
func (s *Store) PlanGroupDeletion(ctx context.Context, id string) (GroupDeletion, error) {
	return planGroupDeletion(ctx, s.db, id)
}

func planGroupDeletion(ctx context.Context, q queryer, id string) (GroupDeletion, error) {
	d := GroupDeletion{ID: id}
	if err := q.QueryRowContext(ctx, `SELECT name FROM device_groups WHERE id = ?`, id).Scan(&d.Name); err != nil {
		return d, notFound(err, "group")
	}
	for _, l := range []struct {
		dst   *[]string
		query string
		arg   string
	}{
		{&d.Devices, `SELECT device_id FROM device_group_members WHERE group_id = ? ORDER BY device_id`, id},
		{&d.Settings, `SELECT key FROM settings WHERE scope = ? ORDER BY key`, "group:" + id},
		{&d.Entitlements, `SELECT name FROM entitlements WHERE group_id = ? ORDER BY name`, id},
	} {
		var err error
		if *l.dst, err = orEmpty(queryAll(ctx, q, scanString, l.query, l.arg)); err != nil {
			return d, err
		}
	}
	return d, nil
}

// scanString scans a one-column text row.
func scanString(row interface{ Scan(...any) error }) (string, error) {
	var v string
	err := row.Scan(&v)
	return v, err
}

// DeleteGroup deletes a group in one transaction: its members fall back to
// no group, its group-scope settings are deleted, and its entitlements too
// when force is set (otherwise their existence is ErrGroupHasEntitlements).
// want is the plan the caller audited: if the group changed since
// (a device joined, a setting was set) the delete is refused with
// ErrGroupChanged, so nothing goes unrecorded. It returns what was removed.
func (s *Store) DeleteGroup(ctx context.Context, want GroupDeletion, force bool) (GroupDeletion, error) {
	var got GroupDeletion
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if got, err = planGroupDeletion(ctx, tx, want.ID); err != nil {
			return err
		}
		if err := got.Check(force); err != nil {
			return err
		}
		if !slices.Equal(got.Devices, want.Devices) || !slices.Equal(got.Settings, want.Settings) || !slices.Equal(got.Entitlements, want.Entitlements) {
			return ErrGroupChanged
		}
		for _, q := range []struct{ query, arg string }{
			{`DELETE FROM device_group_members WHERE group_id = ?`, want.ID},
			{`DELETE FROM settings WHERE scope = ?`, "group:" + want.ID},
			{`DELETE FROM entitlements WHERE group_id = ?`, want.ID},
			{`DELETE FROM device_groups WHERE id = ?`, want.ID},
		} {
			if _, err := tx.ExecContext(ctx, q.query, q.arg); err != nil {
				return err
			}
		}
		return nil
	})
	return got, err
}
