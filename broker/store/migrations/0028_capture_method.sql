-- How the device's agent captures the screen, as its inventory reports it:
-- 'x11-shm' (Linux), 'dxgi' or 'gdi' (Windows); '' from agents before it.
ALTER TABLE devices ADD COLUMN capture_method TEXT NOT NULL DEFAULT '';
