package identity

import (
	"bytes"
	"slices"
)

// WithKey is the identity after the broker handed out the key of rotation:
// secret is in force, and the key the broker issues codes with until it
// confirms the rotation stays as PreviousSecret. If a rotation is already
// unconfirmed, the broker replaced it (it confirms rotations it completed
// before it sends a new one), so its previous key is still the broker's and
// stays. changed is false when the identity already holds this rotation's
// key (a resent message): it is acknowledged again, nothing is saved.
func (id Identity) WithKey(rotation string, secret []byte) (next Identity, changed bool) {
	if id.KeyRotation == rotation && bytes.Equal(id.DeviceSecret, secret) {
		return id, false
	}
	prev := id.DeviceSecret
	if id.KeyRotation != "" {
		prev = id.PreviousSecret
	}
	id.DeviceSecret, id.PreviousSecret, id.KeyRotation = slices.Clone(secret), slices.Clone(prev), rotation
	return id, true
}

// KeyDone is the identity once the broker confirmed rotation: the previous
// key is forgotten. changed is false for a confirmation of anything but the
// identity's unconfirmed rotation (stale, repeated).
func (id Identity) KeyDone(rotation string) (next Identity, changed bool) {
	if id.KeyRotation == "" || id.KeyRotation != rotation {
		return id, false
	}
	id.PreviousSecret, id.KeyRotation = nil, ""
	return id, true
}
