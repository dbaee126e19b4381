package recording

// vp8Keyframe reports whether frame is a VP8 keyframe and, if so, its
// dimensions (RFC 6386 section 9.1: a 3-byte frame tag whose low bit is 0
// for keyframes, the start code 9d 01 2a, then 14-bit width and height).
func vp8Keyframe(frame []byte) (key bool, width, height int) {
	if len(frame) < 10 || frame[0]&1 != 0 {
		return false, 0, 0
	}
	if frame[3] != 0x9d || frame[4] != 0x01 || frame[5] != 0x2a {
		return false, 0, 0
	}
	width = int(uint16(frame[6])|uint16(frame[7])<<8) & 0x3fff
	height = int(uint16(frame[8])|uint16(frame[9])<<8) & 0x3fff
	if width == 0 || height == 0 {
		return false, 0, 0
	}
	return true, width, height
}
