package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"porthole/broker/devicekey"
	"porthole/internal/wire"
)

// rotateDeviceKey starts a rotation of a device's elevation-code key
// (admins: auth.ManageDevices; audited by devicekey). With wait_seconds it
// waits that long for the agent to store the new key: 200 when the
// rotation is done (codes of the old key are refused from now on), 202
// while it is pending (the agent picks the key up when it next connects).
func (a *API) rotateDeviceKey(w http.ResponseWriter, r *http.Request) {
	var req wire.RotateKeyRequest
	if r.ContentLength != 0 {
		if err := wire.DecodeJSON(r.Body, maxBody, &req); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	id := r.PathValue("id")
	actor := "user:" + principal(r).Username
	rot, err := a.cfg.DeviceKeys.Rotate(r.Context(), actor, clientIP(r), id)
	if errors.Is(err, devicekey.ErrRevoked) {
		writeJSON(w, http.StatusConflict, map[string]string{"error": "the device is revoked: it gets no new key"})
		return
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if req.WaitSeconds > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), time.Duration(req.WaitSeconds)*time.Second)
		a.cfg.DeviceKeys.Wait(ctx, id, rot.ID)
		cancel()
		if rot, err = a.cfg.DeviceKeys.Status(r.Context(), id, rot.ID); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	status := http.StatusAccepted
	if rot.State == "done" {
		status = http.StatusOK
	}
	writeJSON(w, status, rot)
}
