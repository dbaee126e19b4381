package store

import (
	"context"
	"database/sql"
	"errors"
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
	if isUnique(err) {
		return ErrConflict
	}
	return err
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
	rows, err := s.db.QueryContext(ctx, `SELECT device_id FROM device_group_members WHERE group_id = ? ORDER BY device_id`, groupID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
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
